"""Liveness and readiness endpoints.

`/healthz` touches nothing: the process answers, so it is alive. `/readyz` runs every readiness
check and answers 503 naming each failing check:

- `database`      reachable, and its schema at the code's head revision;
- `webhook_auth`  WEBHOOK_AUTH has what it needs (else every delivery is a 401);
- `zoho_auth`     live (token state), dry-run, re-authorisation required, or credentials half set;
- `inbox`         the oldest pending event's age (READY_INBOX_MAX_AGE_S);
- `outbox`        failed write-backs (READY_OUTBOX_MAX_FAILED);
- `worker`, `clock` their heartbeat's age (READY_WORKER_MAX_AGE_S, READY_CLOCK_MAX_AGE_S).

A threshold of 0 makes its check report only. The checks that read the database pass with
"unknown" while it is down: `database` already fails, naming the cause once. The same checks
give the one warning line printed at start-up (`startup_warning`).

The checks live here, free of Flask (the worker and the CLI run them too); the two endpoints are
in `app.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from .container import Container

log = logging.getLogger(__name__)

UPGRADE_COMMAND = "python -m integration db upgrade"
UNKNOWN = "unknown: the database is unavailable"
WAITING = ("pending", "processing")
# Checks that say whether the configuration and the database let the service work at all:
# those the start-up warning names (the backlog and heartbeats are naturally empty at start).
STARTUP_CHECKS = ("database", "webhook_auth", "zoho_auth")


class CheckFailed(Exception):
    """A readiness check did not pass; the message says why (never a secret)."""


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    run: Callable[[], str]  # returns a short detail, raises on failure


@dataclass(frozen=True)
class WorkerBeat:
    """What a worker says in its heartbeat: who it is (`worker-<pid>-<hex>`), the write-back mode
    it runs in and the credits Zoho last reported to it. Written by the worker, read by the
    one-worker guard and `status`: the running process's truth, not the asking shell's."""

    owner: str
    mode: str = ""
    credits: int | None = None

    def detail(self) -> str:
        text = f"{self.owner}; write-back {self.mode}"
        if self.credits is not None:
            text += f"; credits left {self.credits}"
        return text[:255]

    @classmethod
    def parse(cls, detail: str) -> WorkerBeat:
        owner, *parts = detail.split("; ")
        mode, credits = "", None
        for part in parts:
            if part.startswith("write-back "):
                mode = part.removeprefix("write-back ")
            elif part.startswith("credits left ") and part[13:].isdigit():
                credits = int(part[13:])
        return cls(owner, mode, credits)


def beat(sessions: sessionmaker[Session], name: str, detail: str, now: datetime) -> None:
    """A long-running process (worker, clock) says it is alive: its heartbeat row, one upsert."""
    from . import db
    from .models import ProcessHeartbeat

    insert = db.insert_for(sessions.kw["bind"].dialect.name)
    statement = insert(ProcessHeartbeat).values(name=name, beat_at=now, detail=detail)
    statement = statement.on_conflict_do_update(
        index_elements=["name"], set_={"beat_at": now, "detail": detail}
    )
    with db.transaction(sessions) as session:
        session.execute(statement)


def run_checks(
    checks: list[ReadinessCheck], *, quiet: bool = False
) -> tuple[bool, list[dict[str, object]]]:
    results: list[dict[str, object]] = []
    for check in checks:
        try:
            detail = check.run()
            results.append({"name": check.name, "ok": True, "detail": detail})
        except Exception as exc:  # a readiness probe must report, never crash
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not quiet:
                log.warning("readiness check %s failed: %s", check.name, reason)
            results.append({"name": check.name, "ok": False, "detail": reason[:300]})
    return all(r["ok"] for r in results), results


@cache
def _head_revision() -> str | None:
    from . import db

    return db.head_revision()


def check_database(container: Container) -> str:
    """Reachable, and migrated to the revision this code needs."""
    from . import db

    db.ping(container.engine)
    current = db.current_revision(container.engine)
    head = _head_revision()
    if current != head:
        raise CheckFailed(
            f"schema at revision {current or 'none'}, the code needs {head}: "
            f"run `{UPGRADE_COMMAND}`"
        )
    return f"{container.engine.dialect.name}, schema at {head}"


def check_webhook_auth(container: Container) -> str:
    settings = container.settings
    missing = settings.webhook_auth_missing
    if missing:
        raise CheckFailed(
            f"WEBHOOK_AUTH={settings.webhook_auth} needs {' and '.join(missing)}: "
            "every delivery is refused (401)"
        )
    return f"WEBHOOK_AUTH={settings.webhook_auth}"


def check_zoho_auth(container: Container) -> str:
    """Live (the shared token state, no Zoho call), dry-run, or a half-set configuration."""
    from .zoho import HttpDeskClient

    missing = container.settings.zoho_credentials_missing
    if missing:
        raise CheckFailed(
            f"{', '.join(missing)} not set: Zoho credentials are half configured (set "
            "all four for live write-back, none for dry-run)"
        )
    if not container.live:
        return "dry-run: no Zoho credentials, nothing is written to Zoho"
    if not isinstance(container.desk, HttpDeskClient):
        return f"live ({type(container.desk).__name__})"
    state = container.desk.tokens.state()
    if state.reauth_required:
        raise CheckFailed(f"re-authorisation required: {state.reauth_reason}")
    paused = state.calls_paused_until
    if paused is not None and paused > container.clock():
        return f"live; calls paused until {paused.isoformat()} (daily credits spent)"
    return "live, token cached" if state.access_token else "live, no token yet"


def _read(container: Container, query: Callable[[Session], Any]) -> Any:
    from . import db

    with db.read_only(container.sessions)() as session:
        return query(session)


def oldest_waiting_event(session: Session) -> datetime | None:
    from .models import InboxEvent

    return session.scalar(
        select(func.min(InboxEvent.received_at)).where(InboxEvent.status.in_(WAITING))
    )


def check_inbox(container: Container) -> str:
    try:
        oldest = _read(container, oldest_waiting_event)
    except SQLAlchemyError:
        return UNKNOWN
    if oldest is None:
        return "no event waiting"
    age = (container.clock() - oldest).total_seconds()
    limit = container.settings.ready_inbox_max_age_s
    detail = f"oldest waiting event received {age:.0f} s ago"
    if limit and age > limit:
        raise CheckFailed(f"{detail} (READY_INBOX_MAX_AGE_S={limit}): is a worker running?")
    return detail


def check_outbox(container: Container) -> str:
    from .models import OutboxWrite

    try:
        failed = _read(
            container,
            lambda s: s.scalar(
                select(func.count()).select_from(OutboxWrite).where(OutboxWrite.status == "failed")
            ),
        )
    except SQLAlchemyError:
        return UNKNOWN
    limit = container.settings.ready_outbox_max_failed
    detail = f"{failed} failed write-back(s)"
    if limit and failed > limit:
        raise CheckFailed(
            f"{detail} (READY_OUTBOX_MAX_FAILED={limit}): see `python -m integration inbox status`"
        )
    return detail


def heartbeat_check(process: str, setting: str) -> Callable[[Container], str]:
    """The age of a process's last heartbeat, against the setting's limit."""

    def check(container: Container) -> str:
        from .models import ProcessHeartbeat

        try:
            beat_row = _read(container, lambda s: s.get(ProcessHeartbeat, process))
        except SQLAlchemyError:
            return UNKNOWN
        limit = getattr(container.settings, setting.lower())
        if beat_row is None:
            if limit:
                raise CheckFailed(f"no {process} has run yet ({setting}={limit})")
            return f"no {process} has run yet"
        age = (container.clock() - beat_row.beat_at).total_seconds()
        detail = f"last beat {age:.0f} s ago by {beat_row.detail}"
        if limit and age > limit:
            raise CheckFailed(f"{detail} ({setting}={limit}): is a {process} running?")
        return detail

    return check


CHECKS: tuple[tuple[str, Callable[[Container], str]], ...] = (
    ("database", check_database),
    ("webhook_auth", check_webhook_auth),
    ("zoho_auth", check_zoho_auth),
    ("inbox", check_inbox),
    ("outbox", check_outbox),
    ("worker", heartbeat_check("worker", "READY_WORKER_MAX_AGE_S")),
    ("clock", heartbeat_check("clock", "READY_CLOCK_MAX_AGE_S")),
)


def readiness_checks(container: Container) -> list[ReadinessCheck]:
    return [ReadinessCheck(name, lambda run=run: run(container)) for name, run in CHECKS]


def startup_line(container: Container, address: str) -> str:
    """What `run` and gunicorn print when they listen: where, which database, which mode."""
    from sqlalchemy.engine import make_url

    settings = container.settings
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"listening on {address} database={database} zoho-write-back={settings.write_back_mode}"


def startup_warning(container: Container) -> str | None:
    """One line naming what stops the service from working, or None."""
    checks = [c for c in container.readiness_checks if c.name in STARTUP_CHECKS]
    ok, results = run_checks(checks, quiet=True)
    if ok:
        return None
    return "warning: not ready: " + "; ".join(
        f"{r['name']}: {r['detail']}" for r in results if not r["ok"]
    )
