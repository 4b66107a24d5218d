"""Deadlines as a function of the ticket's history: never counters, always recomputed.

Inputs are the ticket's own instants (creation, each priority change, each hold, the first
response, the ETA), so a change heard late gives exactly the deadlines of one heard at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from .calendar import BusinessCalendar
from .durations import Duration
from .policy import DedicatedPlan, Policy, Priority, Targets
from .text import normalize

STANDARD, THIRD_PARTY, OPERATIONS, BILLABLE = "standard", "third_party", "operations", "billable"


@dataclass(frozen=True)
class PriorityChange:
    at: datetime
    priority: str


@dataclass(frozen=True)
class Hold:
    """The clocks stood still from `start` to `end` (None: still on hold)."""

    start: datetime
    end: datetime | None = None
    reason: str = "On Hold"


@dataclass(frozen=True)
class EtaChange:
    at: datetime
    eta: datetime | None


@dataclass(frozen=True)
class VendorWait:
    vendor: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class TicketHistory:
    """Everything the deadlines depend on. `priorities[0]` is the priority at creation."""

    created: datetime
    priorities: tuple[PriorityChange, ...]
    holds: tuple[Hold, ...] = ()
    kind: str = STANDARD
    vendor: str = ""
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    etas: tuple[EtaChange, ...] = ()
    vendor_waits: tuple[VendorWait, ...] = ()
    account_id: str = ""
    account_fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def current_priority(self) -> str:
        return self.priorities[-1].priority

    @property
    def eta(self) -> datetime | None:
        return self.etas[-1].eta if self.etas else None


@dataclass(frozen=True)
class Deadline:
    """One deadline and what produced it: `seconds` of business time on `calendar` from `start`,
    stopped during `holds`. `due` is None while an open hold stops the clock, or when the deadline
    does not apply (a third-party request has no resolution deadline)."""

    name: str
    due: datetime | None
    start: datetime | None = None
    seconds: float = 0.0
    calendar: BusinessCalendar | None = None
    holds: tuple[Hold, ...] = ()
    note: str = ""  # why the deadline is not the plain computation (capped, kept, ETA...)

    def counted(self) -> list[tuple[datetime, datetime]]:
        """The business intervals that were counted to reach `due`."""
        if self.due is None or self.start is None or self.calendar is None:
            return []
        counted = []
        for lo, hi in self.calendar.intervals(self.start, self.due):
            counted.extend(
                (a.astimezone(UTC), b.astimezone(UTC))
                for a, b in _subtract_holds(lo, hi, self.holds)
            )
        return counted


@dataclass(frozen=True)
class Deadlines:
    priority: Priority
    targets: Targets
    plan: DedicatedPlan | None
    kind: str
    response: Deadline
    resolution_target: Deadline
    resolution_due: Deadline
    response_warning: datetime | None
    resolution_warning: datetime | None
    paused_since: datetime | None
    policy_version: str

    @property
    def calendar(self) -> str:
        return self.targets.calendar

    @property
    def response_due(self) -> datetime | None:
        return self.response.due


def merge_holds(holds: tuple[Hold, ...] | list[Hold]) -> tuple[Hold, ...]:
    """Sorted, non-overlapping holds; an open hold swallows everything after its start."""
    merged: list[Hold] = []
    for hold in sorted(holds, key=lambda h: h.start):
        if hold.end is not None and hold.end <= hold.start:
            continue
        if merged and (merged[-1].end is None or hold.start <= merged[-1].end):
            last = merged[-1]
            end = None if last.end is None or hold.end is None else max(last.end, hold.end)
            merged[-1] = replace(last, end=end)
        else:
            merged.append(hold)
    return tuple(merged)


def _subtract_holds(
    lo: datetime, hi: datetime, holds: tuple[Hold, ...]
) -> list[tuple[datetime, datetime]]:
    pieces = [(lo, hi)]
    for hold in holds:
        cut = []
        for a, b in pieces:
            h_end = hold.end or b
            if h_end <= a or hold.start >= b:
                cut.append((a, b))
                continue
            if a < hold.start:
                cut.append((a, hold.start))
            if h_end < b:
                cut.append((h_end, b))
        pieces = cut
    return pieces


def add_with_holds(
    calendar: BusinessCalendar, start: datetime, seconds: float, holds: tuple[Hold, ...]
) -> datetime | None:
    """`calendar.add` that stops during holds (merged, sorted); None if an open hold is reached
    before the time runs out."""
    moment, remaining = start, seconds
    for hold in holds:
        if hold.end is not None and hold.end <= moment:
            continue
        candidate = calendar.add(moment, remaining)
        if hold.start >= candidate:
            return candidate
        if hold.start > moment:
            remaining -= calendar.between(moment, hold.start)
        if hold.end is None:
            return None
        moment = hold.end
    return calendar.add(moment, remaining)


def _seconds(duration: Duration, calendar: BusinessCalendar) -> float:
    return duration.to_seconds(calendar.day_length_s)


def _deadline(
    name: str,
    policy: Policy,
    targets: Targets,
    duration: Duration,
    start: datetime,
    holds: tuple[Hold, ...],
) -> Deadline:
    calendar = policy.calendars[targets.calendar]
    seconds = _seconds(duration, calendar)
    due = add_with_holds(calendar, start, seconds, holds)
    return Deadline(name, due, start, seconds, calendar, holds)


def find_plan(policy: Policy, history: TicketHistory) -> DedicatedPlan | None:
    """The dedicated-support plan covering the ticket's account on its creation day, if any."""
    if not policy.plans:
        return None
    day = history.created.astimezone(policy.tz).date()
    for plan in policy.plans:
        if not plan.covers(day):
            continue
        if history.account_id and history.account_id in plan.accounts:
            return plan
        if plan.account_field is not None:
            name, accepted = plan.account_field
            if normalize(str(history.account_fields.get(name, ""))) in accepted:
                return plan
    return None


def _targets(policy: Policy, priority: Priority, plan: DedicatedPlan | None) -> Targets:
    if plan is not None and priority.key in plan.targets:
        return plan.targets[priority.key]
    return priority.targets


def _earlier(new: Deadline, old: Deadline, note: str) -> Deadline:
    """`new`, unless `old` is due earlier: an escalation never gives more time."""
    if old.due is not None and (new.due is None or old.due < new.due):
        return replace(old, name=new.name, note=note)
    return new


def _warning(policy: Policy, deadline: Deadline) -> datetime | None:
    if deadline.due is None or deadline.calendar is None or deadline.start is None:
        return None
    fraction = policy.readings.warning_fraction
    at = add_with_holds(
        deadline.calendar, deadline.start, deadline.seconds * fraction, deadline.holds
    )
    return deadline.due if at is None else min(at, deadline.due)


def compute_deadlines(policy: Policy, history: TicketHistory) -> Deadlines:
    holds = merge_holds(history.holds)
    plan = find_plan(policy, history)
    from_creation = policy.readings.priority_change == "from_creation"
    capped = set(policy.readings.escalation_never_later)

    changes = [PriorityChange(history.created, history.priorities[0].priority)]
    for change in sorted(history.priorities[1:], key=lambda c: c.at):
        if policy.priority(change.priority).key != policy.priority(changes[-1].priority).key:
            changes.append(PriorityChange(max(change.at, history.created), change.priority))

    previous: tuple[Priority, Deadline, Deadline, Deadline] | None = None
    for index, change in enumerate(changes):
        priority = policy.priority(change.priority)
        targets = _targets(policy, priority, plan)
        start = history.created if from_creation or index == 0 else change.at
        response = _deadline("response_due", policy, targets, targets.response, start, holds)
        target = _deadline(
            "resolution_target", policy, targets, targets.resolution_target, start, holds
        )
        due = _deadline("resolution_due", policy, targets, targets.resolution_due, start, holds)
        if previous is not None:
            old_priority, old_response, old_target, old_due = previous
            if priority.rank < old_priority.rank:
                note = f"escalation: kept the earlier deadline of {old_priority.key}"
                if "response_due" in capped:
                    response = _earlier(response, old_response, note)
                if "resolution_target" in capped:
                    target = _earlier(target, old_target, note)
                if "resolution_due" in capped:
                    due = _earlier(due, old_due, note)
            met = history.first_response_at
            if met is not None and met <= change.at:
                response = replace(old_response, note="first response met before the change")
        if target.due is not None and due.due is not None and target.due > due.due:
            target = replace(due, name="resolution_target", note="target capped at the due time")
        previous = (priority, response, target, due)

    assert previous is not None
    priority, response, target, due = previous
    targets = _targets(policy, priority, plan)
    if history.kind == THIRD_PARTY:
        vendor = history.vendor or "third party"
        target = Deadline("resolution_target", None, note=f"waiting on {vendor}: no deadline")
        due = Deadline("resolution_due", None, note=f"waiting on {vendor}: no deadline")
    elif history.kind == OPERATIONS:
        eta = history.eta
        note = "ETA set by operations" if eta else "ETA pending"
        target = Deadline("resolution_target", eta, note=note)
        due = Deadline("resolution_due", eta, note=note)

    paused_since = holds[-1].start if holds and holds[-1].end is None else None
    resolution_warning = None  # an ETA is a date, not business time: no "At risk" before it
    if due.due is not None and history.kind != OPERATIONS:
        if target.due is not None and target.due < due.due:
            resolution_warning = target.due
        else:
            resolution_warning = _warning(policy, due)
    return Deadlines(
        priority=priority,
        targets=targets,
        plan=plan,
        kind=history.kind,
        response=response,
        resolution_target=target,
        resolution_due=due,
        response_warning=_warning(policy, response),
        resolution_warning=resolution_warning,
        paused_since=paused_since,
        policy_version=policy.revision,
    )
