"""The report's per-ticket rows, read from the figures the ledger stored on each ticket (so a
ticket's figures are the ones the service computed from its own history, whenever the report
runs), and the report of a period for a running service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import PriorityOverride, TrackedTicket
from .compile import Labels, Period, Report, TicketRow, compile_report
from .labels import words


def month_period(month: str, tz: ZoneInfo) -> Period:
    """`2026-11` -> 1 to 30 November 2026. ValueError names what is wrong."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise ValueError(f'"{month}" is not a month (YYYY-MM)') from None
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(first, following - timedelta(days=1), tz)


def previous_month(now: datetime, tz: ZoneInfo) -> Period:
    """The whole month before the one `now` falls in (local time)."""
    first_of_this = now.astimezone(tz).date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return Period(last.replace(day=1), last, tz)


def _vendor_waits(text: str) -> dict[str, int]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, (int, float))}


def load_rows(session: Session, period: Period) -> list[TicketRow]:
    """Tickets created in the period, deleted ones left out."""
    tickets = session.scalars(
        select(TrackedTicket).where(
            TrackedTicket.created_at >= period.start,
            TrackedTicket.created_at < period.end,
            TrackedTicket.deleted.is_(False),
        )
    ).all()
    overridden = set(
        session.scalars(
            select(PriorityOverride.ticket_id)
            .join(TrackedTicket, TrackedTicket.ticket_id == PriorityOverride.ticket_id)
            .where(
                PriorityOverride.agent_priority != PriorityOverride.classified_priority,
                TrackedTicket.created_at >= period.start,
                TrackedTicket.created_at < period.end,
            )
        )
    )
    return [
        TicketRow(
            ticket_id=t.ticket_id,
            number=t.ticket_number,
            subject=t.subject,
            created_at=t.created_at,
            priority=t.priority,
            kind=t.kind,
            vendor=t.vendor,
            rule_id=t.rule_id,
            account_id=t.account_id,
            closed_at=t.closed_at,
            response_state=t.response_state,
            resolution_state=t.resolution_state,
            response_business_s=t.response_business_s,
            resolution_business_s=t.resolution_business_s,
            paused_s=t.paused_s or 0,
            eta_changes=t.eta_changes or 0,
            vendor_waits=_vendor_waits(t.vendor_waits),
            resolution_target=t.resolution_target,
            overridden=t.ticket_id in overridden,
        )
        for t in tickets
    ]


def labels_of(policy: Any, lang: str) -> Labels:
    """Priorities most urgent first, named in `lang` (the policy's first name is Spanish)."""
    ordered = sorted(policy.priorities.values(), key=lambda p: p.rank)
    said = words(lang)
    return Labels(
        priorities=[(p.key, p.names[0] if lang == "es" and p.names else p.key) for p in ordered],
        no_account=said["no_account"],
        no_vendor=said["no_vendor"],
        total=said["total"],
    )


def report_for(
    sessions: Callable[[], Session],
    policy: Any,
    period: Period,
    *,
    by: str,
    lang: str,
    now: datetime,
) -> Report:
    with sessions() as session:
        rows = load_rows(session, period)
    return compile_report(rows, period, by, labels_of(policy, lang), now)
