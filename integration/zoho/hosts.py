"""Zoho data centres: the Desk host and the accounts (OAuth) host of each.

Some hosts are unconfirmed (CA: desk.zohocloud.ca, reported by several integrations, vs
desk.zoho.ca); ZOHO_DESK_BASE_URL and ZOHO_ACCOUNTS_URL override whatever this table says.
"""

from __future__ import annotations

from dataclasses import dataclass

DESK_HOSTS = {
    "com": "https://desk.zoho.com",
    "eu": "https://desk.zoho.eu",
    "in": "https://desk.zoho.in",
    "com.au": "https://desk.zoho.com.au",
    "jp": "https://desk.zoho.jp",
    "com.cn": "https://desk.zoho.com.cn",
    "ca": "https://desk.zohocloud.ca",
    "sa": "https://desk.zoho.sa",
    "sg": "https://desk.zoho.sg",
    "ae": "https://desk.zoho.ae",
}
ACCOUNTS_HOSTS = {
    "com": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "com.au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "com.cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
    "sg": "https://accounts.zoho.sg",
    "ae": "https://accounts.zoho.ae",
}


@dataclass(frozen=True)
class Endpoints:
    desk: str  # e.g. https://desk.zoho.com
    accounts: str  # e.g. https://accounts.zoho.com

    @property
    def api(self) -> str:
        return f"{self.desk}/api/v1"

    @property
    def token_url(self) -> str:
        return f"{self.accounts}/oauth/v2/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.desk}/.well-known/jwks.json"


def endpoints(dc: str, desk_override: str = "", accounts_override: str = "") -> Endpoints:
    return Endpoints(
        desk=(desk_override or DESK_HOSTS[dc]).rstrip("/"),
        accounts=(accounts_override or ACCOUNTS_HOSTS[dc]).rstrip("/"),
    )
