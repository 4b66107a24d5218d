"""Zoho Desk: the `DeskClient` port, its HTTP adapter, OAuth, and an in-memory fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from .auth import OAuthRefresher, SqlTokenStore, TokenManager, fingerprint
from .client import DeskClient, HttpDeskClient
from .errors import (
    CallsPaused,
    CreditsExhausted,
    InvalidData,
    NotFound,
    RateLimited,
    ReauthorizationRequired,
    RetryableError,
    ServerError,
    TokenEndpointBusy,
    Unauthorized,
    ZohoError,
)
from .hosts import Endpoints, endpoints

if TYPE_CHECKING:
    from ..metrics import Metrics


def endpoints_for(settings: Settings) -> Endpoints:
    return endpoints(settings.zoho_dc, settings.zoho_desk_base_url, settings.zoho_accounts_url)


def build_http_client(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    metrics: Metrics | None = None,
) -> HttpDeskClient:
    """The live client: the token shared through the database, settings for every limit."""
    import requests

    hosts = endpoints_for(settings)
    timeout = (settings.zoho_timeout_connect_s, settings.zoho_timeout_read_s)
    http = requests.Session()
    # Connections kept per host: at least one per call the cap lets run at once.
    pool = requests.adapters.HTTPAdapter(pool_maxsize=max(10, settings.zoho_max_concurrency))
    http.mount("https://", pool)
    http.mount("http://", pool)
    refresher = OAuthRefresher(
        http,
        hosts.token_url,
        settings.zoho_client_id,
        settings.zoho_client_secret.reveal(),
        settings.zoho_refresh_token.reveal(),
        timeout=timeout,
    )
    tokens = TokenManager(
        SqlTokenStore(sessions),
        refresher,
        margin_s=settings.zoho_token_margin_s,
        clock=clock,
        credentials_fingerprint=fingerprint(
            settings.zoho_refresh_token.reveal(), settings.zoho_client_id
        ),
    )
    return HttpDeskClient(
        hosts,
        settings.zoho_org_id,
        tokens,
        http=http,
        timeout=timeout,
        max_retries=settings.zoho_max_retries,
        max_concurrency=settings.zoho_max_concurrency,
        backoff_initial_s=settings.zoho_backoff_s,
        backoff_max_s=settings.zoho_backoff_max_s,
        credits_pause_s=settings.zoho_credits_pause_s,
        source_id=settings.zoho_source_id,
        clock=clock,
        metrics=metrics,
    )


__all__ = [
    "CallsPaused",
    "CreditsExhausted",
    "DeskClient",
    "Endpoints",
    "HttpDeskClient",
    "InvalidData",
    "NotFound",
    "RateLimited",
    "ReauthorizationRequired",
    "RetryableError",
    "ServerError",
    "TokenEndpointBusy",
    "TokenManager",
    "Unauthorized",
    "ZohoError",
    "build_http_client",
    "endpoints_for",
]
