"""Two workers on the same queue: every event is applied once, every ticket written once, and
Zoho ends showing exactly the service's decision.

Scenario: 30 tickets (seed-example subjects, created Friday 27 Nov 2026 18:30 Mexico City), each
delivered as Ticket_Add plus two updates = 90 events, stored before two workers start together.
On PostgreSQL the claims use SKIP LOCKED and the ticket row lock; on SQLite the single writer.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from sqlalchemy import select

from integration import db
from integration.app import create_app
from integration.models import AuditEntry, InboxEvent, TrackedTicket
from integration.pipeline.inbox import parse_delivery, store
from integration.pipeline.observe import parse_zoho_time
from integration.pipeline.worker import Worker
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Service, service_settings


def test_two_workers_apply_each_event_once_and_write_each_ticket_once(service: Service) -> None:
    desk, org = service.desk, service.desk.org_id
    events = []
    for i in range(30):
        ticket = desk.create_ticket(
            subject="Ataque masivo de SPAM",
            createdTime="2026-11-28T00:30:00.000Z",
            id=str(7000 + i),
        )
        events.append(event("Ticket_Add", ticket, org))
        for status in ("Escalated", "Open"):
            before = desk.get_ticket(ticket["id"])
            service.clock.advance(seconds=1)
            desk.agent_edit(ticket["id"], {"status": status})
            events.append(
                event("Ticket_Update", desk.get_ticket(ticket["id"]), org, prev_state=before)
            )
    with db.transaction(service.container.sessions) as session:
        new, _ = store(
            session, parse_delivery(json.dumps(events).encode()), source="test", now=service.clock()
        )
    assert new == 90

    # A second container: its own engine and connections, as a second process would have.
    other = create_app(
        service_settings(
            service.container.settings.database_url, service.zoho.url, desk, WORKER_BATCH="7"
        ),
        clock=service.clock,
    ).extensions["integration"]
    workers = [Worker(service.container, "w1"), Worker(other, "w2")]
    barrier = threading.Barrier(2)

    def drain(worker: Worker) -> None:
        barrier.wait()
        worker.run_until_idle()

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Anything one left behind: an event of a ticket whose Ticket_Add the other worker was
    # applying waits a backoff, then goes.
    service.clock.advance(minutes=5)
    Worker(service.container).run_until_idle()
    other.dispose()

    with service.container.sessions() as session:
        statuses = Counter(session.scalars(select(InboxEvent.status)))
        applied = Counter(
            json.loads(data)["event"]
            for data in session.scalars(
                select(AuditEntry.data).where(
                    AuditEntry.decision.in_(["Ticket_Add", "Ticket_Update"])
                )
            )
        )
    assert statuses == {"done": 90}
    assert sorted(applied.values()) == [1] * 90  # each event applied exactly once
    patched = Counter(r.path for r in desk.writes("PATCH"))
    assert sorted(patched.values()) == [1] * 30  # exactly one PATCH per ticket
    assert sorted(len(desk.comments[str(7000 + i)]) for i in range(30)) == [1] * 30
    with service.container.sessions() as session:
        for tracked in session.scalars(select(TrackedTicket)):
            shown = desk.get_ticket(tracked.ticket_id)
            assert shown["priority"] == tracked.priority
            assert shown["cf"]["cf_sla_status"] == tracked.sla_status
            assert parse_zoho_time(shown["cf"]["cf_sla_response_due"]) == tracked.response_due
            assert parse_zoho_time(shown["cf"]["cf_sla_resolution_due"]) == (tracked.resolution_due)
