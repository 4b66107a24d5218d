"""Per-ticket rows into the report: groups, totals and the charts' series. Pure: no database.

Definitions (also printed in the HTML report):

- A ticket belongs to the period when it was *created* in it (local dates in the policy's time
  zone); deleted tickets are left out. Open tickets are counted (column `open`); their
  resolution is not decided yet unless its due has already passed.
- First response met % = met / (met + breached), among tickets whose response is decided.
- Resolution met % (due) = met / (met + breached) of the stored resolution state, among tickets
  whose resolution is decided (closed, or open past its due). Third-party tickets have no
  resolution deadline and are not counted.
- Resolution met % (target) = tickets closed at or before their resolution target / tickets
  closed with a target, plus tickets whose resolution due has passed (the target is earlier).
- Breaches = tickets with at least one breached deadline.
- Medians and p90 are of business hours (nearest rank for p90), over the tickets that have the
  figure: responded tickets for the first response, closed tickets for the resolution.
- Paused = wall-clock hours on hold of holds that have ended; the median is over paused tickets.
- Vendor wait = hours waited on each vendor (third-party tickets), as of the ticket's last
  recompute.
- ETA renegotiations = times operations moved an ETA already set (operations tickets).
- Overrides = tickets whose priority an agent changed from the one the service set; the rate is
  over the group's tickets.
- The weekly chart: per week (Monday to Sunday, clipped to the period) and priority, the share of
  tickets with a decided deadline that have no breached deadline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MET, BREACHED = "met", "breached"
DECIDED = (MET, BREACHED)
GROUPINGS = ("priority", "account", "rule", "vendor")
HOUR = 3600.0


@dataclass(frozen=True)
class Period:
    """Local dates, both included, in the policy's time zone."""

    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), self.tz)

    @property
    def end(self) -> datetime:
        """The instant just after the period (midnight after its last day)."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), self.tz)

    def weeks(self) -> list[date]:
        """The first day (inside the period) of each Monday-to-Sunday week of the period."""
        starts = [self.first]
        day = self.first + timedelta(days=7 - self.first.weekday())
        while day <= self.last:
            starts.append(day)
            day += timedelta(days=7)
        return starts

    def week_of(self, moment: datetime) -> date:
        day = moment.astimezone(self.tz).date()
        return max(self.first, day - timedelta(days=day.weekday()))


@dataclass(frozen=True)
class TicketRow:
    """A ticket's stored figures, as the report reads them."""

    ticket_id: str
    number: str
    subject: str
    created_at: datetime
    priority: str  # the policy's key (current priority)
    kind: str
    vendor: str
    rule_id: str
    account_id: str
    closed_at: datetime | None
    response_state: str
    resolution_state: str
    response_business_s: int | None
    resolution_business_s: int | None
    paused_s: int
    eta_changes: int
    vendor_waits: dict[str, int]
    resolution_target: datetime | None
    overridden: bool

    @property
    def breached(self) -> bool:
        return BREACHED in (self.response_state, self.resolution_state)

    @property
    def decided(self) -> bool:
        return self.response_state in DECIDED or self.resolution_state in DECIDED

    @property
    def target_met(self) -> bool | None:
        """Closed by the resolution target (None: not decided, or no target)."""
        if self.resolution_state == BREACHED:
            return False
        if self.closed_at is None or self.resolution_target is None:
            return None
        return self.closed_at <= self.resolution_target


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass(frozen=True)
class GroupFigures:
    key: str
    label: str
    tickets: int
    open: int
    response_met: int
    response_breached: int
    resolution_met: int
    resolution_breached: int
    target_met: int
    target_missed: int
    breached: int
    response_median_h: float | None
    response_p90_h: float | None
    resolution_median_h: float | None
    resolution_p90_h: float | None
    paused_tickets: int
    paused_total_h: float
    paused_median_h: float | None
    vendor_wait_h: dict[str, float]
    operations_tickets: int
    eta_renegotiations: int
    eta_renegotiated_tickets: int
    overrides: int

    @property
    def response_met_pct(self) -> float | None:
        return percent(self.response_met, self.response_met + self.response_breached)

    @property
    def resolution_met_pct(self) -> float | None:
        return percent(self.resolution_met, self.resolution_met + self.resolution_breached)

    @property
    def target_met_pct(self) -> float | None:
        return percent(self.target_met, self.target_met + self.target_missed)

    @property
    def override_pct(self) -> float | None:
        return percent(self.overrides, self.tickets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "tickets": self.tickets,
            "open": self.open,
            "response_met": self.response_met,
            "response_breached": self.response_breached,
            "response_met_pct": self.response_met_pct,
            "resolution_met": self.resolution_met,
            "resolution_breached": self.resolution_breached,
            "resolution_met_pct": self.resolution_met_pct,
            "target_met": self.target_met,
            "target_missed": self.target_missed,
            "target_met_pct": self.target_met_pct,
            "breached": self.breached,
            "response_median_h": self.response_median_h,
            "response_p90_h": self.response_p90_h,
            "resolution_median_h": self.resolution_median_h,
            "resolution_p90_h": self.resolution_p90_h,
            "paused_tickets": self.paused_tickets,
            "paused_total_h": self.paused_total_h,
            "paused_median_h": self.paused_median_h,
            "vendor_wait_h": dict(self.vendor_wait_h),
            "operations_tickets": self.operations_tickets,
            "eta_renegotiations": self.eta_renegotiations,
            "eta_renegotiated_tickets": self.eta_renegotiated_tickets,
            "overrides": self.overrides,
            "override_pct": self.override_pct,
        }


def figures_of(key: str, label: str, rows: Sequence[TicketRow]) -> GroupFigures:
    def count(test: Callable[[TicketRow], bool]) -> int:
        return sum(1 for r in rows if test(r))

    responses = [r.response_business_s for r in rows if r.response_business_s is not None]
    resolutions = [
        r.resolution_business_s
        for r in rows
        if r.closed_at is not None and r.resolution_business_s is not None
    ]
    paused = [r.paused_s for r in rows if r.paused_s > 0]
    waits: dict[str, float] = {}
    for row in rows:
        for vendor, seconds in row.vendor_waits.items():
            waits[vendor] = waits.get(vendor, 0.0) + seconds
    operations = [r for r in rows if r.kind == "operations"]
    return GroupFigures(
        key=key,
        label=label,
        tickets=len(rows),
        open=count(lambda r: r.closed_at is None),
        response_met=count(lambda r: r.response_state == MET),
        response_breached=count(lambda r: r.response_state == BREACHED),
        resolution_met=count(lambda r: r.resolution_state == MET),
        resolution_breached=count(lambda r: r.resolution_state == BREACHED),
        target_met=count(lambda r: r.target_met is True),
        target_missed=count(lambda r: r.target_met is False),
        breached=count(lambda r: r.breached),
        response_median_h=hours(median(responses)),
        response_p90_h=hours(p90(responses)),
        resolution_median_h=hours(median(resolutions)),
        resolution_p90_h=hours(p90(resolutions)),
        paused_tickets=len(paused),
        paused_total_h=hours(sum(paused)) or 0.0,
        paused_median_h=hours(median(paused)),
        vendor_wait_h={v: hours(s) or 0.0 for v, s in sorted(waits.items())},
        operations_tickets=len(operations),
        eta_renegotiations=sum(r.eta_changes for r in operations),
        eta_renegotiated_tickets=sum(1 for r in operations if r.eta_changes > 0),
        overrides=count(lambda r: r.overridden),
    )


@dataclass(frozen=True)
class WeekPoint:
    week: date
    priority: str
    decided: int
    met: int

    @property
    def met_pct(self) -> float | None:
        return percent(self.met, self.decided)


@dataclass(frozen=True)
class Report:
    period: Period
    by: str
    generated_at: datetime
    groups: list[GroupFigures]
    totals: GroupFigures
    weeks: list[date]
    priorities: list[tuple[str, str]]  # (key, label), most urgent first
    weekly: list[WeekPoint]  # only (week, priority) pairs with a decided ticket
    breaches_by_rule: dict[str, int]  # rules with at least one breached ticket, most first
    vendor_wait_h: dict[str, float]
    tickets: list[TicketRow] = field(default_factory=list)  # every ticket, oldest first

    @property
    def breached_tickets(self) -> list[TicketRow]:
        return [r for r in self.tickets if r.breached]


@dataclass(frozen=True)
class Labels:
    """How group keys read: the policy's priorities (in order) and the words for "none"."""

    priorities: list[tuple[str, str]]  # (key, label), most urgent first
    no_account: str = "(none)"
    no_vendor: str = "(none)"
    total: str = "Total"


def _group_key(row: TicketRow, by: str) -> str:
    return {
        "priority": row.priority,
        "account": row.account_id,
        "rule": row.rule_id,
        "vendor": row.vendor,
    }[by]


def compile_report(
    rows: Iterable[TicketRow], period: Period, by: str, labels: Labels, generated_at: datetime
) -> Report:
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    rows = sorted(rows, key=lambda r: (r.created_at, r.ticket_id))
    grouped: dict[str, list[TicketRow]] = {}
    for row in rows:
        grouped.setdefault(_group_key(row, by), []).append(row)
    priority_label = dict(labels.priorities)
    rank = {key: i for i, (key, _) in enumerate(labels.priorities)}

    def label(key: str) -> str:
        if by == "priority":
            return priority_label.get(key, key)
        if not key:
            return (
                labels.no_account if by == "account" else labels.no_vendor if by == "vendor" else ""
            )
        return key

    if by == "priority":
        order = sorted(grouped, key=lambda k: (rank.get(k, len(rank)), k))
    else:
        order = sorted(grouped, key=lambda k: (k == "", k.casefold()))
    groups = [figures_of(k, label(k), grouped[k]) for k in order]
    totals = figures_of("", labels.total, rows)

    cells: dict[tuple[date, str], list[TicketRow]] = {}
    for row in rows:
        if row.decided:
            cells.setdefault((period.week_of(row.created_at), row.priority), []).append(row)
    weekly = [
        WeekPoint(
            week, key, len(cells[week, key]), sum(1 for r in cells[week, key] if not r.breached)
        )
        for week in period.weeks()
        for key, _ in labels.priorities
        if (week, key) in cells
    ]
    per_rule: dict[str, int] = {}
    for row in rows:
        if row.breached:
            per_rule[row.rule_id] = per_rule.get(row.rule_id, 0) + 1
    return Report(
        period=period,
        by=by,
        generated_at=generated_at,
        groups=groups,
        totals=totals,
        weeks=period.weeks(),
        priorities=list(labels.priorities),
        weekly=weekly,
        breaches_by_rule=dict(sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        vendor_wait_h=totals.vendor_wait_h,
        tickets=rows,
    )
