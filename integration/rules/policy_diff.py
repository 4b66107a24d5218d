"""What changed between two policies, in the terms of one ticket: why its deadlines moved.

`sla recompute` recomputes open tickets under the current policy and says, per ticket, which
change of the policy touches it: a day off added inside its window, its priority's target
changed, the office hours of its calendar, a reading. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time

from .calendar import BusinessCalendar, ClosedDay
from .policy import Policy, Targets

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _week(calendar: BusinessCalendar) -> str:
    if calendar.always_open:
        return "24x7"
    days = []
    for name, windows in zip(WEEKDAYS, calendar.week, strict=False):
        shown = ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in windows) or "closed"
        days.append(f"{name} {shown}")
    return "; ".join(days)


def _targets(targets: Targets) -> dict[str, str]:
    return {
        "calendar": targets.calendar,
        "response": str(targets.response),
        "resolution target": str(targets.resolution_target),
        "resolution due": str(targets.resolution_due),
    }


def _closed(day: ClosedDay | None) -> str:
    if day is None:
        return "a working day"
    return f"{day.reason} ({day.name})" if day.name else day.reason


def _closed_days(calendar: BusinessCalendar, first: date, last: date) -> dict[date, ClosedDay]:
    start = datetime.combine(first, time(12), calendar.tz)
    end = datetime.combine(last, time(12), calendar.tz)
    return {day.day: day for day in calendar.closed_days(start, end)}


@dataclass
class PolicyDiff:
    """The differences of `new` from `old` that can move a ticket's deadlines."""

    old: Policy
    new: Policy
    _days: dict[tuple[str, date, date], list[str]] = field(default_factory=dict, repr=False)

    @property
    def same(self) -> bool:
        return self.old.fingerprint == self.new.fingerprint and bool(self.new.fingerprint)

    def reasons(
        self, calendar: str, priority: str, first: date, last: date, account: str = ""
    ) -> list[str]:
        """Why a ticket on `calendar` with `priority`, whose deadlines fall from `first` to
        `last` (local days), may be computed differently under `new`."""
        found = [
            *self._calendar(calendar, first, last),
            *self._priority(priority),
            *self._readings(),
        ]
        if self.old.plans != self.new.plans:
            found.append("dedicated-support plans changed")
        if self.old.kinds != self.new.kinds:
            found.append("third-party / operations settings changed")
        return found

    def _calendar(self, name: str, first: date, last: date) -> list[str]:
        new = self.new.calendars.get(name)
        old = self.old.calendars.get(name)
        if new is None:
            return []
        if old is None:
            return [f"calendar {name} is new"]
        found = []
        if (old.week, old.always_open) != (new.week, new.always_open):
            found.append(f"office hours of {name}: {_week(old)} → {_week(new)}")
        if old.timezone != new.timezone:
            found.append(f"time zone of {name}: {old.timezone} → {new.timezone}")
        if old.day_length_s != new.day_length_s:
            found.append(f"day length of {name} changed")
        key = (name, first, last)
        if key not in self._days:
            before, after = _closed_days(old, first, last), _closed_days(new, first, last)
            self._days[key] = [
                f"{day.isoformat()} on {name}: {_closed(before.get(day))} → "
                f"{_closed(after.get(day))}"
                for day in sorted(set(before) | set(after))
                if _closed(before.get(day)) != _closed(after.get(day))
            ]
        found.extend(self._days[key])
        if old.closures != new.closures and not self._days[key]:
            found.append(f"partial closures of {name} changed")
        return found

    def _priority(self, key: str) -> list[str]:
        new = self.new.priorities.get(key)
        old = self.old.priorities.get(key)
        if new is None or old is None:
            return [] if new is None else [f"priority {key} is new"]
        before, after = _targets(old.targets), _targets(new.targets)
        return [
            f"{key} {what}: {before[what]} → {after[what]}"
            for what in before
            if before[what] != after[what]
        ]

    def _readings(self) -> list[str]:
        return [
            f"reading {f.name}: {getattr(self.old.readings, f.name)} → "
            f"{getattr(self.new.readings, f.name)}"
            for f in fields(self.new.readings)
            if getattr(self.old.readings, f.name) != getattr(self.new.readings, f.name)
        ]
