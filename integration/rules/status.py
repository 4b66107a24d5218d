"""The SLA status of a ticket at an instant, and when it will next change on its own.

The clock process sleeps until `next_change_at` instead of scanning every ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .deadlines import OPERATIONS, THIRD_PARTY, Deadlines, TicketHistory

ON_TRACK = "On track"
AT_RISK = "At risk"
BREACHED = "Breached"
PAUSED = "Paused"
WAITING_THIRD_PARTY = "Waiting on third party"
ETA_PENDING = "ETA pending"
MET = "Met"
STATUSES = (ON_TRACK, AT_RISK, BREACHED, PAUSED, WAITING_THIRD_PARTY, ETA_PENDING, MET)


@dataclass(frozen=True)
class SlaStatus:
    status: str
    next_change_at: datetime | None
    response: str  # met | breached | running | paused
    resolution: str  # met | breached | running | paused | not applicable | eta pending
    reason: str


def _late(moment: datetime | None, due: datetime | None) -> bool:
    return moment is not None and due is not None and moment > due


def evaluate(history: TicketHistory, deadlines: Deadlines, now: datetime) -> SlaStatus:
    responded = history.first_response_at is not None and history.first_response_at <= now
    closed = history.closed_at is not None and history.closed_at <= now
    response_due = deadlines.response.due
    resolution_due = deadlines.resolution_due.due
    paused = deadlines.paused_since is not None and deadlines.paused_since <= now

    if responded:
        response = "breached" if _late(history.first_response_at, response_due) else "met"
    elif closed:
        # Closed without a public reply: the response clock stopped at the closing, so what
        # happens after it (a later event, time passing) cannot turn Met into Breached.
        response = "breached" if _late(history.closed_at, response_due) else "met"
    elif response_due is not None and now >= response_due:
        response = "breached"
    else:
        response = "paused" if paused else "running"

    if history.kind == THIRD_PARTY:
        resolution = "not applicable"
    elif closed:
        resolution = "breached" if _late(history.closed_at, resolution_due) else "met"
    elif resolution_due is not None and now >= resolution_due:
        resolution = "breached"
    elif history.kind == OPERATIONS and resolution_due is None:
        resolution = "eta pending"
    else:
        resolution = "paused" if paused else "running"

    def result(status: str, reason: str, upcoming: datetime | None = None) -> SlaStatus:
        return SlaStatus(status, upcoming, response, resolution, reason)

    if "breached" in (response, resolution):
        which = "first response" if response == "breached" else "resolution"
        return result(BREACHED, f"{which} deadline passed")
    if closed:
        return result(MET, "closed within its deadlines")
    waiting_on_vendor = (
        history.kind == THIRD_PARTY
        and bool(history.vendor_waits)
        and history.vendor_waits[-1].end is None
        and history.vendor_waits[-1].start <= now
    )
    if waiting_on_vendor:  # usually an On Hold status too: the wait, not the pause, is news
        return result(WAITING_THIRD_PARTY, f"waiting on {history.vendor or 'the vendor'}")
    if paused:
        return result(PAUSED, "on hold: every clock is stopped")

    upcoming = [
        t
        for t in (
            deadlines.response_warning if not responded else None,
            response_due if not responded else None,
            deadlines.resolution_warning,
            resolution_due,
        )
        if t is not None and t > now
    ]
    next_change = min(upcoming) if upcoming else None
    warning_passed = (
        not responded
        and deadlines.response_warning is not None
        and now >= deadlines.response_warning
    ) or (deadlines.resolution_warning is not None and now >= deadlines.resolution_warning)
    if warning_passed:
        return result(AT_RISK, "past the warning point of a deadline", next_change)
    if history.kind == THIRD_PARTY and responded:
        return result(WAITING_THIRD_PARTY, f"waiting on {history.vendor or 'the vendor'}")
    if history.kind == OPERATIONS and resolution_due is None and responded:
        return result(ETA_PENDING, "operations has not set an ETA", next_change)
    return result(ON_TRACK, "every deadline is ahead", next_change)


def vendor_wait_seconds(history: TicketHistory, now: datetime) -> dict[str, float]:
    """Wall-clock time spent waiting on each vendor (open waits count up to `now`)."""
    totals: dict[str, float] = {}
    for wait in history.vendor_waits:
        end = min(wait.end or now, now)
        if end > wait.start:
            totals[wait.vendor] = totals.get(wait.vendor, 0.0) + (end - wait.start).total_seconds()
    return totals
