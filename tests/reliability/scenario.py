"""What the fault-injection tests share: their sizes, a generated Zoho portal with a stream of
events, and how to read the outcome of a run (ours and the fake Zoho's).

`CHAOS=1` (`make chaos`) selects the issue's sizes; without it each module runs a small size that
keeps the whole of `tests/reliability` within a few seconds per module in `make test`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from integration import db
from integration.models import Base, InboxEvent, Notice, OutboxWrite, TrackedTicket
from integration.pipeline.fields import comment_marker
from integration.pipeline.inbox import parse_delivery, store
from integration.zoho.client import zoho_time
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Clock, mx

NOTICE_ID = re.compile(r"ref:sla-notice-\d+")
CHAOS = os.environ.get("CHAOS", "") not in ("", "0")


def size(fast: int, chaos: int) -> int:
    """The size of a run: `chaos` under `make chaos` (CHAOS=1), else `fast`."""
    return chaos if CHAOS else fast


SUBJECTS = [
    "Servicio caído en el VPS",
    "Ataque masivo de SPAM",
    "Configuración de correo en Outlook",
    "Mejoras y nueva funcionalidad en la tienda",
    "Licencia de Zoho One",
    "Hola, tengo una pregunta",
]
PRIORITY_CHANGES = ["Low", "Urgent", "High", "Medium"]
EVENTS_PER_TICKET = 5
START = mx("2026-11-02 09:00")  # Monday: the first ticket is created then
NOW = mx("2026-11-07 12:00")  # Saturday: the workers run then, after every event


def portal(events: int) -> tuple[FakeDesk, list[dict[str, Any]]]:
    """A fresh fake portal and the same `events` events (5 per ticket: add, agent reply, hold,
    resume, priority change) every time it is called with the same size."""
    assert events % EVENTS_PER_TICKET == 0, events
    clock = Clock(START)
    desk = FakeDesk(clock=clock)
    org = desk.org_id
    found: list[dict[str, Any]] = []
    for i in range(events // EVENTS_PER_TICKET):
        clock.set(START + timedelta(minutes=17 * (i % 200)) + timedelta(seconds=i // 200))
        ticket = desk.create_ticket(subject=SUBJECTS[i % len(SUBJECTS)],
                                    createdTime=zoho_time(clock()))  # fmt: skip
        found.append(event("Ticket_Add", ticket, org))
        clock.advance(minutes=20 + i % 7)
        thread = desk.add_thread(ticket["id"])
        found.append(event("Ticket_Thread_Add", {**thread, "ticketId": ticket["id"]}, org))
        for change in (
            {"status": "Waiting on customer"},
            {"status": "Open"},
            {"priority": PRIORITY_CHANGES[i % 4]},
        ):
            clock.advance(hours=3 + i % 5)
            before = desk.get_ticket(ticket["id"])
            desk.agent_edit(ticket["id"], change)
            found.append(event("Ticket_Update", desk.get_ticket(ticket["id"]), org,
                               prev_state=before))  # fmt: skip
    return desk, found


def load(url: str, events: list[dict[str, Any]], now: datetime = NOW) -> None:
    """Store the events in the inbox as the receiver would."""
    engine = db.make_engine(url)
    try:
        with db.transaction(db.make_session_factory(engine)) as session:
            new, _ = store(
                session, parse_delivery(json.dumps(events).encode()), source="test", now=now
            )
    finally:
        engine.dispose()
    assert new == len(events)


def queue_counts(url: str) -> dict[str, dict[str, int]]:
    """Rows per status: inbox events, outbox writes, notices."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: dict(
                    connection.execute(
                        select(model.status, func.count()).group_by(model.status)
                    ).all()  # type: ignore[arg-type]
                )
                for name, model in (
                    ("events", InboxEvent),
                    ("writes", OutboxWrite),
                    ("notices", Notice),
                )
            }
    finally:
        engine.dispose()


def drained(counts: dict[str, dict[str, int]], events: int) -> bool:
    """Every event done and nothing left to send."""
    return counts["events"] == {"done": events} and all(
        set(counts[table]) <= {"done"} for table in ("writes", "notices")
    )


def zoho_outcome(desk: FakeDesk) -> dict[str, Any]:
    """What Zoho shows and what it was sent: per ticket our fields, priority and comments (the
    explaining comment is the one with the ticket's marker), and the PATCH and comment counts."""
    with desk._lock:
        tickets = {
            tid: (t["priority"], dict(t["cf"]), t["dueDate"]) for tid, t in desk.tickets.items()
        }
        # Notice ids are database ids, allotted in processing order: left out.
        comments = {
            tid: tuple(sorted(NOTICE_ID.sub("ref:sla-notice-N", c["content"]) for c in found))
            for tid, found in desk.comments.items()
        }
        explaining = {
            tid: sum(comment_marker(tid) in c["content"] for c in found)
            for tid, found in desk.comments.items()
        }
    patches = Counter(r.path.rsplit("/", 1)[-1] for r in desk.writes("PATCH"))
    posts = Counter(
        r.path.split("/")[-2] for r in desk.writes("POST") if r.path.endswith("/comments")
    )
    return {
        "tickets": tickets,
        "comments": comments,
        "explaining": explaining,
        "patches": patches,
        "comment_posts": posts,
    }


def ticket_rows(url: str) -> dict[str, tuple[Any, ...]]:
    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine)() as session:
            return {
                t.ticket_id: (t.classified_priority, t.kind, t.rule_id, t.priority,
                              t.first_response_at, t.response_due, t.resolution_target,
                              t.resolution_due, t.sla_status, t.comment_posted)
                for t in session.scalars(select(TrackedTicket))
            }  # fmt: skip
    finally:
        engine.dispose()


def next_changes(url: str) -> list[datetime]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    select(TrackedTicket.next_check_at).where(
                        TrackedTicket.next_check_at.is_not(None)
                    )
                ).all()
            )
    finally:
        engine.dispose()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "") -> None:
    """Poll `predicate` (a subprocess's progress, seen in the database) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def wipe(url: str) -> None:
    """Every row of every table gone (the schema stays): a second run on the same database."""
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(delete(table))
    finally:
        engine.dispose()


def notices_due(url: str, before: datetime) -> int:
    """Notices waiting to be sent (or held by a worker) that fall due before `before`."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count())
                    .select_from(Notice)
                    .where(
                        Notice.status.in_(["pending", "processing"]), Notice.available_at < before
                    )
                )
                or 0
            )
    finally:
        engine.dispose()
