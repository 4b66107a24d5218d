"""Retention: what is older than `RETENTION_DAYS` is deleted (ticket bodies carry personal data).

- inbox events that are done (applied, or ignored as a type we do not handle), by their
  `available_at` (the claim index) and processed more than the retention ago; failed and
  quarantined ones stay until a person looks at them;
- audit rows older than the retention, oldest first (by id, which follows time);
- observations of tickets that are closed or deleted and quiet (not updated) for longer than the
  retention, except each ticket's latest one. An open ticket's deadlines are computed from its
  whole observation log (`build_history`), so its observations are never touched; a closed ticket
  keeps its last state, so if it is ever reopened its history reads "closed until now".

Each batch (`RETENTION_BATCH` rows) is its own transaction: the deletes never hold the database
long, and a prune interrupted half way simply continues at the next run. `RETENTION_DAYS=0` keeps
everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, aliased

from .. import db
from ..container import Container
from ..models import AuditEntry, InboxEvent, TicketObservation, TrackedTicket

log = logging.getLogger(__name__)

DONE = ("done", "ignored")


@dataclass(frozen=True)
class PruneResult:
    inbox: int = 0
    audit: int = 0
    observations: int = 0

    @property
    def total(self) -> int:
        return self.inbox + self.audit + self.observations


def prune_once(container: Container, *, now: datetime | None = None) -> PruneResult:
    days = container.settings.retention_days
    if days == 0:
        return PruneResult()
    cutoff = (now or container.clock()) - timedelta(days=days)
    batch = container.settings.retention_batch
    result = PruneResult(
        inbox=_in_batches(container, lambda: _inbox_batch(container, cutoff, batch), batch),
        audit=_in_batches(container, lambda: _audit_batch(container, cutoff, batch), batch),
        observations=_observations(container, cutoff, batch),
    )
    if result.total:
        log.info(
            "retention: pruned %d inbox event(s), %d audit row(s), %d observation(s) older than "
            "%d day(s)",
            result.inbox,
            result.audit,
            result.observations,
            days,
        )
    return result


def _in_batches(container: Container, one_batch: Callable[[], int], batch: int) -> int:
    total = 0
    while True:
        deleted = one_batch()
        total += deleted
        if deleted < batch:
            return total


def _inbox_batch(container: Container, cutoff: datetime, batch: int) -> int:
    with db.transaction(container.sessions) as session:
        ids = list(
            session.scalars(
                select(InboxEvent.id)
                .where(
                    InboxEvent.status.in_(DONE),
                    InboxEvent.available_at < cutoff,
                    or_(InboxEvent.processed_at.is_(None), InboxEvent.processed_at < cutoff),
                )
                .limit(batch)
            )
        )
        if ids:
            session.execute(delete(InboxEvent).where(InboxEvent.id.in_(ids)))
        return len(ids)


def _audit_batch(container: Container, cutoff: datetime, batch: int) -> int:
    with db.transaction(container.sessions) as session:
        ids = list(
            session.scalars(
                select(AuditEntry.id)
                .where(AuditEntry.at < cutoff)
                .order_by(AuditEntry.id)  # the oldest rows come first in the primary key
                .limit(batch)
            )
        )
        if ids:
            session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)))
        return len(ids)


def _observations(container: Container, cutoff: datetime, batch: int) -> int:
    """Batches of quiet closed or deleted tickets that still have more than one observation."""
    total = 0
    while True:
        with db.transaction(container.sessions) as session:
            tickets = list(
                session.scalars(
                    select(TicketObservation.ticket_id)
                    .join(TrackedTicket, TrackedTicket.ticket_id == TicketObservation.ticket_id)
                    .where(
                        or_(
                            TrackedTicket.deleted.is_(True),
                            func.lower(TrackedTicket.zoho_status_type) == "closed",
                        ),
                        TrackedTicket.updated_at < cutoff,
                    )
                    .group_by(TicketObservation.ticket_id)
                    .having(func.count() > 1)
                    .limit(batch)
                )
            )
            deleted = 0
            for ticket_id in tickets:
                deleted += _all_but_the_latest(session, ticket_id)
        total += deleted
        if len(tickets) < batch:
            return total


def _all_but_the_latest(session: Session, ticket_id: str) -> int:
    latest = aliased(TicketObservation)
    newest = (
        select(func.max(latest.modified_time))
        .where(latest.ticket_id == ticket_id)
        .scalar_subquery()
    )
    result = session.execute(
        delete(TicketObservation).where(
            TicketObservation.ticket_id == ticket_id, TicketObservation.modified_time < newest
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
