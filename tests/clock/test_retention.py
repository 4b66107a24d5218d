"""Retention: the clock's prune job deletes what RETENTION_DAYS no longer keeps, in batches, and
never what an open ticket's deadlines are computed from.

Scenario: two tickets arrive through the real pipeline (webhook, worker, fake Zoho) on Friday
27 Nov 2026; an agent closes one at once. The clock is then moved past the retention.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from integration.clock.retention import prune_once
from integration.clock.scheduler import ClockProcess
from integration.models import (
    AuditEntry,
    InboxEvent,
    ProcessHeartbeat,
    TicketObservation,
    TrackedTicket,
)
from tests.pipeline.conftest import Clock, Service, running_service

SPAM = "Ataque masivo de SPAM"


def count(service: Service, model: type, *where: object) -> int:
    with service.container.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def observations(service: Service, ticket_id: str) -> int:
    return count(service, TicketObservation, TicketObservation.ticket_id == ticket_id)


def open_and_closed(service: Service) -> tuple[str, str]:
    """Two tickets with several observations each; the second closed by an agent."""
    open_ticket = service.add(subject=SPAM)["id"]
    closed = service.add(subject="Alta de usuario")["id"]
    service.work()
    service.clock.advance(minutes=5)
    service.agent_update(open_ticket, status="On Hold")
    service.work()  # live: each event reads Zoho's state when it is applied
    service.clock.advance(minutes=5)
    service.agent_update(open_ticket, status="Open")
    service.agent_update(closed, status="Closed")
    service.work()
    assert observations(service, open_ticket) >= 3
    assert observations(service, closed) >= 2
    return open_ticket, closed


def test_past_the_retention_done_events_and_audit_rows_are_pruned(service: Service) -> None:
    open_and_closed(service)
    assert count(service, InboxEvent) > 0 and count(service, AuditEntry) > 0
    service.clock.advance(days=91)
    result = prune_once(service.container)
    assert count(service, InboxEvent) == 0
    assert count(service, AuditEntry) == 0
    assert result.inbox > 0 and result.audit > 0


def test_within_the_retention_nothing_is_pruned(service: Service) -> None:
    open_and_closed(service)
    before = (count(service, InboxEvent), count(service, AuditEntry),
              count(service, TicketObservation))  # fmt: skip
    service.clock.advance(days=89)
    assert prune_once(service.container).total == 0
    after = (count(service, InboxEvent), count(service, AuditEntry),
             count(service, TicketObservation))  # fmt: skip
    assert after == before


def test_an_open_tickets_observations_are_never_pruned(service: Service) -> None:
    open_ticket, _ = open_and_closed(service)
    kept = observations(service, open_ticket)
    service.clock.advance(days=400)
    prune_once(service.container)
    assert observations(service, open_ticket) == kept


def test_a_closed_quiet_ticket_keeps_only_its_latest_observation(service: Service) -> None:
    _, closed = open_and_closed(service)
    service.clock.advance(days=91)
    prune_once(service.container)
    assert observations(service, closed) == 1
    with service.container.sessions() as session:
        [last] = session.scalars(
            select(TicketObservation).where(TicketObservation.ticket_id == closed)
        ).all()
    assert last.status == "Closed"


def test_a_closed_ticket_updated_within_the_retention_keeps_its_observations(
    service: Service,
) -> None:
    _, closed = open_and_closed(service)
    kept = observations(service, closed)
    service.clock.advance(days=91)
    with service.container.sessions.begin() as session:
        session.get(TrackedTicket, closed).updated_at = service.clock() - timedelta(days=10)  # type: ignore[union-attr]
    prune_once(service.container)
    assert observations(service, closed) == kept


def test_a_reopened_ticket_after_pruning_gets_deadlines_again(service: Service) -> None:
    _, closed = open_and_closed(service)
    service.clock.advance(days=91)
    prune_once(service.container)
    service.agent_update(closed, status="Open")
    service.work()
    with service.container.sessions() as session:
        ticket = session.get(TrackedTicket, closed)
    assert ticket is not None and ticket.next_check_at is not None


def test_small_batches_prune_everything_in_several_transactions(
    database_url: str, clock: Clock
) -> None:
    with running_service(database_url, clock, {"RETENTION_BATCH": "1"}) as service:
        _, closed = open_and_closed(service)
        clock.advance(days=91)
        result = prune_once(service.container)
        assert result.inbox >= 2 and result.observations >= 1
        assert count(service, InboxEvent) == 0
        assert observations(service, closed) == 1


def test_retention_days_zero_keeps_everything(database_url: str, clock: Clock) -> None:
    with running_service(database_url, clock, {"RETENTION_DAYS": "0"}) as service:
        open_and_closed(service)
        before = count(service, InboxEvent) + count(service, AuditEntry)
        clock.advance(days=3650)
        assert prune_once(service.container).total == 0
        assert count(service, InboxEvent) + count(service, AuditEntry) == before


def test_the_prune_job_records_its_last_success(service: Service) -> None:
    ClockProcess(service.container).prune()
    with service.container.sessions() as session:
        row = session.get(ProcessHeartbeat, "job:prune")
    assert row is not None and row.beat_at == service.clock()
