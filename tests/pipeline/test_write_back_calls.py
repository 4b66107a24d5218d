"""What live write-back costs in Zoho calls, and how the calls of a round overlap.

Per event (each figure counted on the fake Zoho Desk):
- a new ticket: the apply step reads it (GET); the write sets the priority, so it reads the
  ticket again at send time (GET: an agent's priority is never overwritten), PATCHes the
  difference and posts the explaining comment (POST). The comment's marker is only looked for
  (GET comments) on a retry after an attempt that may have reached Zoho: 0 here.
- a change that moves only our fields: GET (apply) + PATCH: the write compares with the state
  apply read moments before (ZOHO_REUSE_READ_S; 0 makes it GET again).
- the echo of our own write: GET (apply), no PATCH, no comment.

The worker's threads (ZOHO_MAX_CONCURRENCY) run a round's calls at once: the batch's reads, one
per distinct ticket, before its events are applied in order; then the writes of different
tickets, each claimed and sent on its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from integration.models import TrackedTicket
from integration.pipeline.worker import Worker
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Clock, Service, mx, running_service

SPAM = "Ataque masivo de SPAM"  # a seed example: High
CREATED = "2026-11-28T00:30:00.000Z"  # Fri 27 Nov 2026 18:30 local


def calls(service: Service, since: int = 0) -> Counter[str]:
    """The API calls made to the fake since request number `since`, by kind."""
    counted: Counter[str] = Counter()
    for r in service.desk.requests[since:]:
        if not r.path.startswith("/api/v1/tickets/"):
            continue
        what = r.path.rsplit("/", 1)[-1] if r.path.count("/") > 4 else "ticket"
        counted[f"{r.method} {what}"] += 1
    return counted


@pytest.fixture(params=["1", "4"], ids=["cap-1", "cap-4"])
def capped(request: pytest.FixtureRequest, database_url: str, clock: Clock) -> Iterator[Service]:
    with running_service(database_url, clock, {"ZOHO_MAX_CONCURRENCY": request.param}) as service:
        yield service


def test_calls_per_event_new_ticket_change_and_echo(capped: Service) -> None:
    service = capped
    mark = len(service.desk.requests)
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    before = service.desk.get_ticket(ticket["id"])
    service.work()
    assert calls(service, mark) == {"GET ticket": 2, "PATCH ticket": 1, "POST comments": 1}

    # The echo: Zoho tells us of our own write.
    mark = len(service.desk.requests)
    ours = service.desk.get_ticket(ticket["id"])
    service.deliver(event("Ticket_Update", ours, service.desk.org_id, prev_state=before))
    service.work()
    assert calls(service, mark) == {"GET ticket": 1}

    # A change: an agent raises the priority; our deadlines move (the priority is theirs).
    service.clock.set(mx("2026-11-30 09:00"))
    mark = len(service.desk.requests)
    service.agent_update(ticket["id"], priority="Urgent")
    service.work()
    assert calls(service, mark) == {"GET ticket": 1, "PATCH ticket": 1}
    [*_, patch] = service.desk.writes("PATCH", f"/api/v1/tickets/{ticket['id']}")
    assert "priority" not in patch.body  # the agent's word stands
    assert patch.body["cf"]["cf_sla_resolution_due"] == "2026-11-30T17:00:00.000Z"  # 2 h: 11:00


def test_a_batch_reads_each_ticket_once_whatever_its_events(service: Service) -> None:
    org = service.desk.org_id
    ticket = service.desk.create_ticket(subject=SPAM, createdTime=CREATED)
    service.clock.advance(minutes=5)
    before = service.desk.get_ticket(ticket["id"])
    service.desk.agent_edit(ticket["id"], {"status": "Escalated"})
    escalated = service.desk.get_ticket(ticket["id"])
    thread = service.desk.add_thread(ticket["id"])
    service.deliver(
        event("Ticket_Add", before, org),
        event("Ticket_Update", escalated, org, prev_state=before),
        event("Ticket_Thread_Add", {**thread, "ticketId": ticket["id"]}, org),
    )
    mark = len(service.desk.requests)
    with Worker(service.container) as worker:
        assert worker.process_events() == 3  # the apply step only
    assert calls(service, mark) == {"GET ticket": 1, "GET threads": 1}
    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None
        assert tracked.zoho_status == "Escalated"
        assert tracked.first_response_at == service.clock()  # the reply, read off the threads


class Gate:
    """Holds each GET of a ticket until `width` of them are in Zoho at once (or fails after a
    generous timeout, so sequential calls fail the test instead of hanging it); records the
    most calls ever in flight."""

    def __init__(self, get_ticket: Any, width: int) -> None:
        self.get_ticket = get_ticket
        self.barrier = threading.Barrier(width, timeout=20)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, ticket_id: str) -> dict[str, Any]:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            self.barrier.wait()
            return self.get_ticket(ticket_id)  # type: ignore[no-any-return]
        finally:
            with self.lock:
                self.in_flight -= 1


def test_the_reads_and_writes_of_a_round_overlap_up_to_the_cap(service: Service) -> None:
    tickets = [service.add(subject=SPAM, createdTime=CREATED, id=str(7100 + i)) for i in range(8)]
    gate = Gate(service.desk.get_ticket, width=4)
    service.desk.get_ticket = gate  # type: ignore[method-assign]
    try:
        service.work()
    finally:
        del service.desk.get_ticket
    assert gate.peak == 4  # four at once, never more (ZOHO_MAX_CONCURRENCY's default)
    for ticket in tickets:
        [patch] = service.desk.writes("PATCH", f"/api/v1/tickets/{ticket['id']}")
        assert patch.body["priority"] == "High"
        assert len(service.desk.comments[ticket["id"]]) == 1
    assert calls(service) == {"GET ticket": 16, "PATCH ticket": 8, "POST comments": 8}


def test_without_reusing_reads_every_write_reads_zoho_first(
    database_url: str, clock: Clock
) -> None:
    with running_service(database_url, clock, {"ZOHO_REUSE_READ_S": "0"}) as service:
        service.clock.set(mx("2026-11-27 18:30"))
        ticket = service.add(subject=SPAM, createdTime=CREATED)
        service.work()
        service.clock.set(mx("2026-11-30 09:00"))
        mark = len(service.desk.requests)
        service.agent_update(ticket["id"], priority="Urgent")
        service.work()
        assert calls(service, mark) == {"GET ticket": 2, "PATCH ticket": 1}
