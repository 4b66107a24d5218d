"""The status sweep: tickets whose `next_check_at` has passed are re-evaluated at the current
instant. The ledger does the rest as for an event: status, warnings, breaches and reminders, and
what Zoho should show goes to the outbox (same differences, retries and audit as the worker's).

The query reads `tickets` by `next_check_at` (indexed), so its cost follows the due tickets, not
the open ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from .. import db
from ..container import Container
from ..models import TrackedTicket
from ..pipeline.ledger import Ledger

log = logging.getLogger(__name__)

RETRY_BROKEN = timedelta(hours=1)  # a ticket that cannot be evaluated is tried again this late


@dataclass(frozen=True)
class SweepResult:
    due: int
    changed: int


def due_tickets(container: Container, now: datetime, limit: int) -> list[str]:
    with db.read_only(container.sessions)() as session:  # SQLite: no wait behind writers
        return list(
            session.scalars(
                select(TrackedTicket.ticket_id)
                .where(TrackedTicket.next_check_at <= now, TrackedTicket.deleted.is_(False))
                .order_by(TrackedTicket.next_check_at)
                .limit(limit)
            )
        )


def sweep_once(container: Container, *, now: datetime | None = None) -> SweepResult:
    """Re-evaluate up to CLOCK_SWEEP_BATCH due tickets, each in its own transaction."""
    now = now or container.clock()
    settings = container.settings
    ledger = Ledger.of(container, clock=lambda: now)
    ids = due_tickets(container, now, settings.clock_sweep_batch)
    changed = 0
    for ticket_id in ids:
        try:
            with db.transaction(container.sessions) as session:
                ticket = ledger.lock(session, ticket_id)
                if ticket is None or ticket.next_check_at is None or ticket.next_check_at > now:
                    continue  # another clock (or an event) got there first
                before = ticket.sla_status
                decision = ledger.recompute(session, ticket, None)
                if ticket.sla_status != before:
                    changed += 1
                    ledger.audit(session, ticket_id, "clock", f"{before} -> {decision}", {})
        except DBAPIError:
            raise  # the database: the whole sweep waits for it
        except Exception as exc:  # this ticket cannot be evaluated: it must not block the rest
            log.exception("sweep: ticket %s could not be evaluated", ticket_id)
            with db.transaction(container.sessions) as session:
                session.execute(
                    update(TrackedTicket)
                    .where(TrackedTicket.ticket_id == ticket_id)
                    .values(next_check_at=now + RETRY_BROKEN)
                )
                ledger.audit(session, ticket_id, "clock-error", f"{type(exc).__name__}: {exc}", {})
    if ids:
        container.wake_worker()
        log.info("sweep: %d ticket(s) due, %d changed status", len(ids), changed)
    return SweepResult(due=len(ids), changed=changed)
