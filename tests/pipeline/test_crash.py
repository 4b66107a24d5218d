"""kill -9 of the worker in the middle of a batch of 200 events.

Scenario: 40 tickets created on Monday 2 Nov 2026 (Mexico City), 5 events each (add, agent reply,
hold, resume, priority change) = 200 events, stored in the inbox. A real `python -m integration
worker` process is killed with SIGKILL mid-batch and started again. The final state must equal a
run without the kill, against an identical fake Zoho Desk.

Every process runs on one clock: Saturday 7 Nov 2026 12:00 Mexico City when it starts, ticking
from there (the SLA statuses are then a mix; no status, warning or reminder falls due within the
hour the runs may take), never the wall clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from integration import db
from integration.app import create_app
from integration.models import Base, InboxEvent, TrackedTicket
from integration.pipeline.inbox import parse_delivery, store
from integration.pipeline.worker import Worker
from integration.zoho.client import zoho_time
from integration.zoho.fake import FakeDesk, Fault
from integration.zoho.fake_server import FakeZohoServer, event
from tests.pipeline.conftest import Clock, mx, service_settings
from tests.pipeline.worker_process import ticking_from

ROOT = Path(__file__).resolve().parents[2]

SUBJECTS = [
    "Servicio caído en el VPS",
    "Ataque masivo de SPAM",
    "Configuración de correo en Outlook",
    "Mejoras y nueva funcionalidad en la tienda",
    "Licencia de Zoho One",
    "Hola, tengo una pregunta",
]
PRIORITY_CHANGES = ["Low", "Urgent", "High", "Medium"]
NOW = mx("2026-11-07 12:00")  # when the workers run: a Saturday, after every event


def build(desk: FakeDesk, clock: Clock) -> list[dict[str, Any]]:
    """The same 200 events every time it runs on a fresh FakeDesk."""
    org = desk.org_id
    events: list[dict[str, Any]] = []
    for i in range(40):
        clock.set(mx("2026-11-02 09:00") + timedelta(minutes=17 * i))
        ticket = desk.create_ticket(subject=SUBJECTS[i % len(SUBJECTS)],
                                    createdTime=zoho_time(clock()))  # fmt: skip
        events.append(event("Ticket_Add", ticket, org))
        clock.advance(minutes=20 + i % 7)
        thread = desk.add_thread(ticket["id"])
        events.append(event("Ticket_Thread_Add", {**thread, "ticketId": ticket["id"]}, org))
        for change in (
            {"status": "Waiting on customer"},
            {"status": "Open"},
            {"priority": PRIORITY_CHANGES[i % 4]},
        ):
            clock.advance(hours=3 + i % 5)
            before = desk.get_ticket(ticket["id"])
            desk.agent_edit(ticket["id"], change)
            events.append(event("Ticket_Update", desk.get_ticket(ticket["id"]), org,
                                prev_state=before))  # fmt: skip
    return events


def fresh_zoho() -> tuple[FakeDesk, list[dict[str, Any]]]:
    clock = Clock(mx("2026-11-02 09:00"))
    desk = FakeDesk(clock=clock)
    return desk, build(desk, clock)


def wipe(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()


def load(url: str, events: list[dict[str, Any]]) -> None:
    import json

    engine = db.make_engine(url)
    with db.transaction(db.make_session_factory(engine)) as session:
        new, _ = store(session, parse_delivery(json.dumps(events).encode()), source="test",
                       now=NOW)  # fmt: skip
    engine.dispose()
    assert new == 200


def outcome(url: str, desk: FakeDesk) -> dict[str, Any]:
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        tickets = {
            t.ticket_id: (t.classified_priority, t.kind, t.rule_id, t.priority,
                          t.first_response_at, t.response_due, t.resolution_target,
                          t.resolution_due, t.sla_status, t.comment_posted)
            for t in session.scalars(select(TrackedTicket))
        }  # fmt: skip
        states = dict(
            session.execute(
                select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
            ).all()
        )
    engine.dispose()
    zoho = {tid: (t["priority"], t["cf"], t["dueDate"]) for tid, t in desk.tickets.items()}
    patches = Counter(r.path.rsplit("/", 1)[-1] for r in desk.writes("PATCH"))
    comments = {
        tid: (
            sum("Prioridad asignada" in c["content"] for c in found),  # the assignment comment
            sum("Prioridad asignada" not in c["content"] for c in found),  # warnings, breaches
        )
        for tid, found in desk.comments.items()
    }
    return {"tickets": tickets, "inbox": states, "zoho": zoho, "patches": patches,
            "comments": comments}  # fmt: skip


def next_changes(url: str) -> list[datetime]:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        found = connection.scalars(
            select(TrackedTicket.next_check_at).where(TrackedTicket.next_check_at.is_not(None))
        ).all()
    engine.dispose()
    return list(found)


def counts(url: str) -> dict[str, int]:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        rows = dict(
            connection.execute(
                select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
            ).all()
        )
    engine.dispose()
    return rows


def start_worker(url: str, zoho: FakeZohoServer, cwd: Path) -> subprocess.Popen[bytes]:
    desk = zoho.desk
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "ZOHO_DESK_BASE_URL": zoho.url,
        "ZOHO_ACCOUNTS_URL": zoho.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "WORKER_BATCH": "25",
        "WORKER_LEASE_S": "2",
        "WORKER_POLL_S": "0.05",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline.worker_process", NOW.isoformat()], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.real_clock("the worker runs in processes of its own")
def test_kill_9_mid_batch_then_restart_ends_like_a_run_without_the_kill(
    database_url: str, tmp_path: Path
) -> None:
    # Control: the same 200 events, an identical portal, no kill.
    desk, events = fresh_zoho()
    with FakeZohoServer(desk) as zoho:
        app = create_app(service_settings(database_url, zoho.url, desk), clock=ticking_from(NOW))
        load(database_url, events)
        Worker(app.extensions["integration"]).run_until_idle()
        app.extensions["integration"].dispose()
        control = outcome(database_url, desk)
        upcoming = next_changes(database_url)
    assert control["inbox"] == {"done": 200}
    statuses = {status for *_, status, _ in control["tickets"].values()}
    assert statuses >= {"On track", "At risk", "Breached", "Waiting on third party"}
    # No status of the control run changes on its own within the hour the runs may take.
    assert all(at > NOW + timedelta(hours=1) for at in upcoming), upcoming
    wipe(database_url)

    desk, events = fresh_zoho()
    with FakeZohoServer(desk) as zoho:
        # Every ticket fetch takes 20 ms, so a batch of 25 is still running when we kill.
        desk.inject(Fault(status=200, delay_s=0.02, times=100_000, method="GET",
                          path_prefix="/api/v1/tickets/"))  # fmt: skip
        load(database_url, events)
        first = start_worker(database_url, zoho, tmp_path)
        try:

            def mid_batch() -> bool:
                now = counts(database_url)
                return now.get("done", 0) >= 50 and now.get("processing", 0) > 0

            wait_for(mid_batch, timeout=120)
            os.kill(first.pid, signal.SIGKILL)
            killed_while = counts(database_url)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        assert killed_while.get("processing", 0) > 0, killed_while  # mid-batch indeed
        assert killed_while.get("done", 0) < 200

        second = start_worker(database_url, zoho, tmp_path)
        try:
            wait_for(lambda: counts(database_url) == {"done": 200}, timeout=180)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        after_kill = outcome(database_url, desk)

    assert after_kill["inbox"] == {"done": 200}
    assert after_kill["tickets"] == control["tickets"]
    assert after_kill["zoho"] == control["zoho"]
    # Nothing sent twice: the same PATCHes and comments as without the kill (one assignment
    # comment per ticket, and the same warning and breach notices).
    assert after_kill["patches"] == control["patches"]
    assert sum(control["patches"].values()) == 40
    assert after_kill["comments"] == control["comments"]
    assert {assigned for assigned, _ in control["comments"].values()} == {1}
    assert sum(notices for _, notices in control["comments"].values()) > 0
    assert second.returncode == 0  # SIGTERM: a clean stop
