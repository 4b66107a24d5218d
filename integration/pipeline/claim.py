"""The two work queues of the service, the inbox (events to apply) and the outbox (writes to
Zoho), share one discipline: rows are `pending` until due, claimed in one statement under a lease
(`processing`), and released with a backoff, or ended (`done`, `failed`, ...). A row whose worker
died is due again once its lease expires."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..models import InboxEvent, Notice, OutboxWrite

Row = TypeVar("Row", InboxEvent, OutboxWrite, Notice)
PENDING, PROCESSING = "pending", "processing"


def _key(model: type[Row]) -> InstrumentedAttribute[Any]:
    return model.ticket_id if model is OutboxWrite else model.id  # type: ignore[attr-defined, return-value]


def due(model: type[Row], now: datetime) -> Any:
    return or_(
        and_(model.status == PENDING, model.available_at <= now),
        and_(model.status == PROCESSING, model.lease_until < now),
    )


def no_events_waiting(now: datetime) -> Any:
    """For an outbox claim: the ticket has no event due or being applied. Its write waits for
    them, so a ticket whose events arrive together is written once, with the last decision."""
    return ~(
        select(InboxEvent.id)
        .where(
            InboxEvent.ticket_id == OutboxWrite.ticket_id,
            or_(
                and_(InboxEvent.status == PENDING, InboxEvent.available_at <= now),
                InboxEvent.status == PROCESSING,
            ),
        )
        .exists()
    )


def claim(
    session: Session,
    model: type[Row],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    order_by: Sequence[Any],
    where: Sequence[Any] = (),
) -> list[Row]:
    """One statement: pick due rows (SKIP LOCKED on PostgreSQL; SQLite has a single writer)
    that meet `where`, mark them processing under our lease, count the attempt, return them."""
    key = _key(model)
    picked = (
        select(key).where(due(model, now), *where).order_by(*order_by).limit(limit)
        .with_for_update(skip_locked=True)
    )  # fmt: skip
    statement = (
        update(model)
        .where(key.in_(picked.scalar_subquery()))
        .values(
            status=PROCESSING,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=model.attempts + 1,
        )
        .returning(model)
    )
    rows = list(session.scalars(statement, execution_options={"synchronize_session": False}))
    session.expunge_all()
    return rows


def release(
    session: Session,
    model: type[Row],
    key: object,
    *,
    owner: str,
    available_at: datetime,
    error: str,
    count_attempt: bool = True,
    **extra: Any,
) -> None:
    """Back to pending until `available_at` (only if the lease is still ours). Without
    `count_attempt` the claim does not count: Zoho was unreachable for reasons time fixes."""
    values: dict[str, Any] = {
        **extra,
        "status": PENDING,
        "available_at": available_at,
        "lease_owner": None,
        "lease_until": None,
        "last_error": error[:2000],
    }
    if not count_attempt:  # a wait for Zoho, not a try: counted apart (and bounded)
        values["attempts"] = model.attempts - 1
        values["waits"] = model.waits + 1
    session.execute(
        update(model).where(_key(model) == key, model.lease_owner == owner).values(**values)
    )


def end(
    session: Session,
    model: type[Row],
    key: object,
    *conditions: Any,
    owner: str,
    status: str,
    **values: Any,
) -> int:
    """A final state for a row we hold (and that meets `conditions`); 1 if it was still ours."""
    values.setdefault("last_error", "")
    values["last_error"] = str(values["last_error"])[:2000]
    result = session.execute(
        update(model)
        .where(_key(model) == key, model.lease_owner == owner, *conditions)
        .values(status=status, lease_owner=None, lease_until=None, **values)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def renew(session: Session, model: type[Row], key: object, *, owner: str, until: datetime) -> bool:
    """Extend our lease on a row we are working on; False when it is no longer ours (our lease
    expired and another worker claimed it): the caller must stop before its next call to Zoho."""
    result = session.execute(
        update(model)
        .where(_key(model) == key, model.lease_owner == owner, model.status == PROCESSING)
        .values(lease_until=until)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


class LeaseLost(Exception):
    """Another worker holds the row now (our lease expired): our work on it is abandoned."""
