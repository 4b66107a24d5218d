"""The leads' views: `zoho views` prints each with its criteria on this service's fields and its
sort order; `zoho check` says which the portal lacks, and says "check by hand" when the portal's
API does not list views.

Policy: the shipped Ignus policy (fields cf_sla_status, cf_sla_response_due,
cf_sla_resolution_due). Portal: the fake Zoho Desk, which starts with Zoho's two system views.
"""

from __future__ import annotations

import json

import pytest

from integration.cli import main
from integration.zoho.fake import FakeDesk, Fault
from tests.zoho.conftest import check

NAMES = [
    "SLA vencido",
    "SLA en riesgo",
    "Vence hoy",
    "Esperando proveedor",
    "ETA pendiente",
    "Pausados",
]


def test_views_prints_each_view_with_its_criteria_and_sort(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["zoho", "views"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f'"{name}"' in out
    assert "criterion  cf_sla_status is Breached" in out
    assert "criterion  cf_sla_resolution_due is Today" in out
    assert "criterion  Status Type is not Closed" in out
    assert "sort by    cf_sla_resolution_due ascending" in out


def test_views_json_names_the_fields_the_policy_writes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoho", "views", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["views"]
    assert [v["name"] for v in shown] == NAMES
    breached = shown[0]
    assert {"field": "cf_sla_status", "operator": "is", "value": "Breached"} in breached["criteria"]
    assert breached["sort"]["order"] == "ascending"


def test_check_names_each_missing_view_then_finds_them_all(
    zoho_env: FakeDesk,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = check(capsys)
    assert code == 0  # views are advice: their absence breaks nothing
    for name in NAMES:
        assert f'[warn]    view "{name}": not found: create it (`zoho views` prints how)' in lines
    for name in NAMES[:-1]:
        zoho_env.add_view(name)
    zoho_env.add_view("pausados")  # any case
    _code, lines = check(capsys)
    assert "[ok]      views: all 6 leads' views found" in lines
    assert not [line for line in lines if line.startswith("[warn]    view ")]


def test_a_portal_that_does_not_list_views_is_told_to_check_by_hand(
    zoho_env: FakeDesk,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zoho_env.inject(
        Fault(
            status=404,
            body={"errorCode": "URL_NOT_FOUND", "message": "no such URL"},
            path_prefix="/api/v1/views",
            times=5,
        )
    )
    code, lines = check(capsys)
    assert code == 0
    [line] = [line for line in lines if "views" in line and line.startswith("[warn]")]
    assert "could not be listed (404" in line and "check by hand" in line
