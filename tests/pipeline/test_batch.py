"""A claimed batch of events applied in one transaction (set-based reads and writes, dry-run
writes settled in it) leaves exactly what applying each event on its own leaves.

Policy: the shipped Ignus policy, dry-run write-back (no Zoho credentials). The same story is
played twice, on two sets of tickets that differ only in their ids, in the same worker rounds
(WORKER_BATCH=50): once each claimed event in its own transaction (what the worker does when a
batch fails), once whole batches. Tickets are
created Monday 30 Nov 2026 from 10:00 America/Mexico_City; agents reply, put tickets on hold,
change a priority, close one; one event is poison (a thread of a ticket never added).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from integration import db
from integration.container import build_container
from integration.models import AuditEntry, InboxEvent, Notice, OutboxWrite, TrackedTicket
from integration.pipeline.inbox import parse_delivery, store
from integration.pipeline.worker import Worker
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Clock, mx

SUBJECTS = [
    "Se cayó el servidor",
    "Ataque masivo de SPAM",
    "Cómo configuro mi correo en Outlook",
    "Renovación del dominio ignus.mx",
    "El sitio está muy lento",
    "Solicitud de cotización para desarrollo Magento",
]


def story(base: int) -> list[dict[str, Any]]:
    """The deliveries of one story, for tickets numbered from `base`."""
    clock = Clock(mx("2026-11-30 10:00"))
    desk = FakeDesk(clock=clock)
    events: list[dict[str, Any]] = []
    ids = []
    for n, subject in enumerate(SUBJECTS):
        ticket = desk.create_ticket(id=str(base + n), subject=subject)
        ids.append(ticket["id"])
        events.append(event("Ticket_Add", ticket, desk.org_id, event_time="1"))
        clock.advance(minutes=3)
    for n, ticket_id in enumerate(ids):
        clock.advance(minutes=7)
        if n % 2 == 0:
            thread = desk.add_thread(ticket_id)
            events.append(
                event("Ticket_Thread_Add", {**thread, "ticketId": ticket_id}, desk.org_id)
            )
        before = desk.get_ticket(ticket_id)
        change = [{"status": "On Hold"}, {"priority": "Low"}, {"status": "Closed"}][n % 3]
        desk.agent_edit(ticket_id, change)
        events.append(
            event("Ticket_Update", desk.get_ticket(ticket_id), desk.org_id, prev_state=before)
        )
    # poison: a thread of a ticket that was never added
    events.append(event("Ticket_Thread_Add", {"id": "1", "ticketId": str(base + 99)}, desk.org_id))
    return events


def play(database_url: str, base: int, clock: Clock, *, batched: bool) -> Any:
    """The story through the worker; `batched=False` applies each claimed event on its own
    (as when a batch fails), in the same rounds."""
    container = build_container(
        {"DATABASE_URL": database_url, "WORKER_BATCH": "50", "WORKER_BACKOFF_S": "0.01"},
        clock=clock,
    )
    statements = []
    sa_event.listen(container.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    parsed = parse_delivery(
        json.dumps(story(base)).encode(),
        container.policy.fields,
        payload_is_history=True,
        quarantine=True,
    )
    with db.transaction(container.sessions) as session:
        store(session, parsed, source="webhook", now=clock())
    statements.clear()
    worker = Worker(container)
    if not batched:
        worker.applier.apply_batch = refuse  # type: ignore[method-assign]
    worker.run_until_idle()
    return container, len(statements)


def refuse(events: list[InboxEvent]) -> None:
    raise RuntimeError("batches refused: each event on its own")


def snapshot(container: Any, base: int) -> list[Any]:
    """Everything the story left, with the tickets' ids made relative to `base`."""

    def rel(ticket_id: str) -> int:
        return int(ticket_id) - base

    in_story = [str(base + n) for n in (*range(len(SUBJECTS)), 99)]
    with container.sessions() as session:
        tickets = session.scalars(
            select(TrackedTicket).where(TrackedTicket.ticket_id.in_(in_story))
        ).all()
        outbox = session.scalars(select(OutboxWrite).where(OutboxWrite.ticket_id.in_(in_story)))
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.ticket_id.in_(in_story)).order_by(AuditEntry.id)
        )
        notices = session.scalars(select(Notice).where(Notice.ticket_id.in_(in_story)))
        events = session.scalars(
            select(InboxEvent).where(InboxEvent.ticket_id.in_(in_story)).order_by(InboxEvent.id)
        )
        return [
            sorted(
                (
                    rel(t.ticket_id),
                    t.priority,
                    t.rule_id,
                    t.sla_status,
                    t.response_due,
                    t.resolution_due,
                    t.first_response_at,
                    t.comment_id,
                    t.next_check_at,
                )
                for t in tickets
            ),
            sorted(
                (rel(o.ticket_id), o.status, o.last_sent.replace(str(base), "B"), o.writes)
                for o in outbox
            ),
            sorted((rel(a.ticket_id), a.decision, a.reason.replace(str(base), "B")) for a in audit),
            sorted((rel(n.ticket_id), n.key, n.status) for n in notices),
            [
                (
                    rel(e.ticket_id),
                    e.event_type,
                    e.status,
                    e.last_error.replace(str(base)[:-3], "B"),
                )
                for e in events
            ],
        ]


def test_a_batch_leaves_what_each_event_on_its_own_leaves(database_url: str) -> None:
    clock = Clock(mx("2026-11-30 12:00"))
    one_by_one, one_by_one_statements = play(database_url, 432100000000001000, clock, batched=False)
    batched, batched_statements = play(database_url, 432100000000002000, clock, batched=True)
    try:
        expected = snapshot(one_by_one, 432100000000001000)
        assert expected[0], "the story tracked no ticket"
        assert snapshot(batched, 432100000000002000) == expected
        # and the point of batching: far fewer statements for the same work
        assert batched_statements * 3 < one_by_one_statements
    finally:
        one_by_one.dispose()
        batched.dispose()


def test_a_poison_event_in_a_batch_is_quarantined_and_the_rest_applied(
    database_url: str,
) -> None:
    clock = Clock(mx("2026-11-30 12:00"))
    container, _ = play(database_url, 432100000000003000, clock, batched=True)
    try:
        clock.advance(minutes=30)  # past every backoff: the poison event is retried until spent
        for _ in range(10):
            Worker(container).run_until_idle()
            clock.advance(hours=1)
        with container.sessions() as session:
            statuses = dict(
                session.execute(
                    select(InboxEvent.ticket_id, InboxEvent.status).where(
                        InboxEvent.ticket_id == "432100000000003099"
                    )
                ).all()
            )
            done = session.scalars(
                select(InboxEvent.status).where(InboxEvent.ticket_id != "432100000000003099")
            ).all()
        assert statuses["432100000000003099"] in {"failed", "quarantined"}
        assert set(done) == {"done"}
    finally:
        container.dispose()
