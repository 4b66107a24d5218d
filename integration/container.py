"""The composition root: `build_container(config=None, **overrides)` wires every part of the
service (settings, database, policy, clock, Zoho client, webhook authentication) for the web app,
the worker, the clock and the CLI alike.

Nothing is read or opened at import time. Tests pass a `Settings` (or a mapping of variables) and
fakes through the same door; production passes nothing and the environment is read here. Flask is
not imported here: the worker and the CLI need no web layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import db
from .config import ConfigError, Settings, load_settings, settings_from_mapping
from .health import ReadinessCheck, readiness_checks
from .metrics import Metrics
from .pipeline.authenticate import DeliveryAuthenticator, JwtVerifier, TokenVerifier
from .rules import Policy, PolicyError, load_policy
from .zoho import DeskClient, build_http_client


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    """The wired parts of one running service, shared by the web, worker and clock processes."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy = field(default_factory=load_policy)
    clock: Callable[[], datetime] = utc_now
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    desk: DeskClient | None = None  # None = dry-run (no Zoho credentials)
    webhook_auth: Any = None
    work_available: threading.Event = field(default_factory=threading.Event)

    @property
    def live(self) -> bool:
        """Whether write-back reaches Zoho (otherwise dry-run: recorded, not written)."""
        return self.desk is not None

    def wake_worker(self) -> None:
        self.work_available.set()

    def dispose(self) -> None:
        self.engine.dispose()


def _resolve_settings(config: Settings | Mapping[str, str] | None) -> Settings:
    if config is None:
        return load_settings()
    if isinstance(config, Settings):
        return config
    return settings_from_mapping(config)


def build_container(
    config: Settings | Mapping[str, str] | None = None, **overrides: Any
) -> Container:
    """Everything but the web layer: used by `create_app`, the worker, the clock and the CLI."""
    settings = _resolve_settings(config)
    if "policy" not in overrides:
        try:
            overrides["policy"] = load_policy(settings.sla_policy_file or None)
        except PolicyError as exc:
            raise ConfigError(f"SLA_POLICY_FILE: {exc}") from None
    engine = overrides.pop("engine", None) or db.make_engine(
        settings.database_url,
        busy_timeout_ms=settings.db_busy_timeout_ms,
        connect_timeout_s=settings.db_connect_timeout_s,
        max_overflow=max(5, settings.zoho_max_concurrency),
    )
    container = Container(
        settings=settings, engine=engine, sessions=db.make_session_factory(engine), **overrides
    )
    if container.desk is None and settings.zoho_configured:
        container.desk = build_http_client(
            settings, container.sessions, container.clock, metrics=container.metrics
        )
    container.readiness_checks.extend(readiness_checks(container))
    if container.webhook_auth is None:
        container.webhook_auth = _webhook_authenticator(settings)
    return container


def _webhook_authenticator(settings: Settings) -> DeliveryAuthenticator:
    from .zoho.hosts import endpoints

    hosts = endpoints(settings.zoho_dc, settings.zoho_desk_base_url, settings.zoho_accounts_url)
    return DeliveryAuthenticator(
        settings.webhook_auth,
        JwtVerifier(
            hosts.jwks_url,
            settings.zoho_org_id,
            settings.zoho_webhook_id,
            leeway_s=settings.webhook_jwt_leeway_s,
            timeout_s=settings.webhook_jwks_timeout_s,
        ),
        TokenVerifier(settings.webhook_token.reveal()),
    )
