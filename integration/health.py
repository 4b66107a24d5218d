"""Liveness and readiness endpoints.

`/healthz` touches nothing: the process answers, so it is alive. `/readyz` runs every registered
readiness check (database now; Zoho auth, backlog and clock heartbeat join as they land) and answers
503 naming each failing check, so a load balancer stops sending work we could not store.

The checks live here, free of Flask (the worker and the CLI run them too); the two endpoints are
in `app.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class CheckFailed(Exception):
    """A readiness check did not pass; the message says why (never a secret)."""


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    run: Callable[[], str]  # returns a short detail, raises on failure


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


def run_checks(checks: list[ReadinessCheck]) -> tuple[bool, list[dict[str, object]]]:
    results: list[dict[str, object]] = []
    for check in checks:
        try:
            detail = check.run()
            results.append({"name": check.name, "ok": True, "detail": detail})
        except Exception as exc:  # a readiness probe must report, never crash
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("readiness check %s failed: %s", check.name, reason)
            results.append({"name": check.name, "ok": False, "detail": reason[:300]})
    return all(r["ok"] for r in results), results
