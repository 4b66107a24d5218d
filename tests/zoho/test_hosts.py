"""Data centres: ZOHO_DC picks the Desk host and the accounts (OAuth) host."""

from __future__ import annotations

import pytest

from integration.config import ZOHO_DATA_CENTRES, settings_from_mapping
from integration.zoho import endpoints_for
from integration.zoho.hosts import endpoints


@pytest.mark.parametrize(
    ("dc", "desk", "accounts"),
    [
        ("sg", "https://desk.zoho.sg", "https://accounts.zoho.sg"),
        ("ae", "https://desk.zoho.ae", "https://accounts.zoho.ae"),
        ("ca", "https://desk.zohocloud.ca", "https://accounts.zohocloud.ca"),
    ],
)
def test_a_data_centre_setting_points_at_its_desk_and_accounts_hosts(
    dc: str, desk: str, accounts: str
) -> None:
    hosts = endpoints_for(settings_from_mapping({"ZOHO_DC": dc}))
    assert (hosts.desk, hosts.accounts) == (desk, accounts)


def test_every_data_centre_the_settings_accept_has_hosts() -> None:
    for dc in ZOHO_DATA_CENTRES:
        hosts = endpoints(dc)
        assert hosts.desk.startswith("https://desk.") and hosts.accounts.startswith(
            "https://accounts."
        ), dc
