"""A ticket's figures for the compliance report, as a function of its history (no `now`).

Stored on the ticket at every recompute, so the report reads them instead of recomputing, and a
closed ticket's figures are the same whenever the report runs:

- `response_business_s`: business seconds from creation to the first response, on the ticket's
  calendar (the calendar of its current priority), hold periods excluded; None until it responds
  (a ticket closed without a public reply has none: its response state says met or breached).
- `resolution_business_s`: the same, from creation to the closing; None while open.
- `paused_s`: wall-clock seconds on hold (On Hold statuses, quotes awaiting authorisation).
  Only holds that have ended count: an open hold counts from the moment it ends, so the figure
  never depends on when it was computed (the ticket's state says "paused" meanwhile). The time
  a ticket spent closed before it was reopened stops the clocks but is not counted as paused.
- `eta_changes`: how many times an ETA already set was moved to another instant (the ETA being
  cleared, or set for the first time, is no renegotiation); operations tickets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .calendar import BusinessCalendar
from .deadlines import OPERATIONS, Deadlines, Hold, TicketHistory, _subtract_holds, merge_holds
from .policy import Policy
from .status import SlaStatus

# The reason `pipeline/observe.build_history` gives the time a ticket spent closed before it was
# reopened (its clocks stood still, but it was not on hold).
CLOSED_HOLD = "closed"


@dataclass(frozen=True)
class TicketFigures:
    account_id: str
    closed_at: datetime | None
    response_state: str
    resolution_state: str
    response_business_s: int | None
    resolution_business_s: int | None
    paused_s: int
    eta_changes: int


def business_seconds(
    calendar: BusinessCalendar, start: datetime, end: datetime, holds: tuple[Hold, ...]
) -> float:
    """Business seconds of `calendar` from `start` to `end`, the (merged) holds left out."""
    if end <= start:
        return 0.0
    total = 0.0
    for lo, hi in calendar.intervals(start, end):
        total += sum((b - a).total_seconds() for a, b in _subtract_holds(lo, hi, holds))
    return total


def paused_seconds(holds: tuple[Hold, ...]) -> float:
    """Wall-clock seconds of the holds that have ended (see the module's docstring)."""
    ended = [h for h in holds if h.end is not None and h.reason != CLOSED_HOLD]
    return sum((h.end - h.start).total_seconds() for h in merge_holds(ended) if h.end is not None)


def eta_renegotiations(history: TicketHistory) -> int:
    if history.kind != OPERATIONS:
        return 0
    moved, agreed = 0, None
    for change in sorted(history.etas, key=lambda c: c.at):
        if change.eta is None:
            continue
        if agreed is not None and change.eta != agreed:
            moved += 1
        agreed = change.eta
    return moved


def ticket_figures(
    policy: Policy, history: TicketHistory, deadlines: Deadlines, status: SlaStatus
) -> TicketFigures:
    calendar = policy.calendars[deadlines.calendar]
    holds = merge_holds(history.holds)

    def counted(end: datetime | None) -> int | None:
        if end is None:
            return None
        return round(business_seconds(calendar, history.created, end, holds))

    return TicketFigures(
        account_id=history.account_id,
        closed_at=history.closed_at,
        response_state=status.response,
        resolution_state=status.resolution,
        response_business_s=counted(history.first_response_at),
        resolution_business_s=counted(history.closed_at),
        paused_s=round(paused_seconds(history.holds)),
        eta_changes=eta_renegotiations(history),
    )
