"""Business calendars: when the SLA clock runs.

A calendar is weekly working windows in an IANA time zone, minus statutory holidays (the `holidays`
package), company days off and partial closures; or 24x7 with optional exception dates.

Arithmetic runs on a precomputed index: the working intervals of whole years as UTC epoch seconds,
with prefix sums of their lengths. The business time before an instant is one binary search; adding
a duration is two. Nothing walks day by day or minute by minute, so an addition costs O(log n)
whatever its length. The index grows by whole years when an instant falls outside it.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from dateutil.easter import easter

MINUTES_PER_DAY = 24 * 60
_MAX_INDEX_YEARS = 400  # a calendar with no working time would otherwise grow forever


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class DateRule:
    """A day named in the policy file: "2026-12-12" (once), "12-12" (every year) or "easter-2"."""

    spec: str

    def dates_in(self, year: int) -> list[date]:
        spec = self.spec.strip().lower()
        if spec.startswith("easter"):
            offset = int(spec[len("easter") :] or 0)
            return [easter(year) + timedelta(days=offset)]
        parts = spec.split("-")
        if len(parts) == 3:
            once = date.fromisoformat(spec)
            return [once] if once.year == year else []
        if len(parts) == 2:
            month, day = int(parts[0]), int(parts[1])
            try:
                return [date(year, month, day)]
            except ValueError:  # 02-29 in a common year
                return []
        raise CalendarError(f'"{self.spec}" is not a date, MM-DD or easter±N')

    def validate(self) -> None:
        self.dates_in(2000)


@dataclass(frozen=True)
class DayOff:
    when: DateRule
    name: str = "company day off"


@dataclass(frozen=True)
class PartialClosure:
    """Closed from `start_min` to `end_min` (minutes after local midnight) on the given days."""

    when: DateRule
    start_min: int
    end_min: int
    name: str = "partial closure"


@dataclass(frozen=True)
class ClosedDay:
    day: date
    reason: str  # "weekend", "holiday", "day off", "exception"
    name: str


@dataclass(frozen=True)
class _Index:
    first_year: int
    last_year: int
    starts: list[float]
    ends: list[float]
    cum_start: list[float]  # business seconds before interval i starts
    cum_end: list[float]  # business seconds at the end of interval i


@dataclass(eq=False)
class BusinessCalendar:
    name: str
    timezone: str
    week: tuple[tuple[tuple[int, int], ...], ...] = ()  # Monday..Sunday -> ((start_min, end_min),)
    always_open: bool = False
    holiday_country: str = ""
    holiday_subdivision: str = ""
    holiday_language: str = ""
    days_off: tuple[DayOff, ...] = ()
    closures: tuple[PartialClosure, ...] = ()
    day_length_s: float = 0.0
    _index: _Index | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)
        if self.always_open:
            self.week = tuple(((0, MINUTES_PER_DAY),) for _ in range(7))
        if len(self.week) != 7:
            raise CalendarError(f"calendar {self.name}: the week needs 7 days")
        weekly = sum(end - start for day in self.week for start, end in day)
        if weekly <= 0:
            raise CalendarError(f"calendar {self.name}: no working time in the week")
        if not self.day_length_s:
            self.day_length_s = max(sum(e - s for s, e in day) for day in self.week) * 60.0

    # ---- days -------------------------------------------------------------------------------

    def _holidays(self, years: Iterable[int]) -> dict[date, str]:
        if not self.holiday_country:
            return {}
        kwargs = {"years": list(years)}
        if self.holiday_subdivision:
            kwargs["subdiv"] = self.holiday_subdivision
        if self.holiday_language:
            kwargs["language"] = self.holiday_language
        return dict(holidays_lib.country_holidays(self.holiday_country, **kwargs))

    def _days_off(self, years: Iterable[int]) -> dict[date, str]:
        found: dict[date, str] = {}
        for year in years:
            for day_off in self.days_off:
                for day in day_off.when.dates_in(year):
                    found.setdefault(day, day_off.name)
        return found

    def closed_reason(self, day: date) -> ClosedDay | None:
        """Why a whole local day has no working time, or None when it has some."""
        return self._closed_reason(
            day, self._holidays([day.year]), self._days_off([day.year]), self._closures([day.year])
        )

    def _closed_reason(
        self,
        day: date,
        statutory: dict[date, str],
        days_off: dict[date, str],
        closures: dict[date, list[tuple[int, int, str]]],
    ) -> ClosedDay | None:
        if day in days_off:
            reason = "exception" if self.always_open else "day off"
            return ClosedDay(day, reason, days_off[day])
        if day in statutory and not self.always_open:
            return ClosedDay(day, "holiday", statutory[day])
        if not self.week[day.weekday()]:
            return ClosedDay(day, "weekend", day.strftime("%A"))
        if not self._windows(day, closures):
            name = closures[day][0][2] if day in closures else "closed"
            return ClosedDay(day, "day off", name)
        return None

    def _closures(self, years: Iterable[int]) -> dict[date, list[tuple[int, int, str]]]:
        found: dict[date, list[tuple[int, int, str]]] = {}
        for year in years:
            for closure in self.closures:
                for day in closure.when.dates_in(year):
                    found.setdefault(day, []).append(
                        (closure.start_min, closure.end_min, closure.name)
                    )
        return found

    def _windows(
        self, day: date, closures: dict[date, list[tuple[int, int, str]]]
    ) -> list[tuple[int, int]]:
        windows = list(self.week[day.weekday()])
        for c_start, c_end, _name in closures.get(day, ()):
            cut: list[tuple[int, int]] = []
            for start, end in windows:
                if c_end <= start or c_start >= end:
                    cut.append((start, end))
                    continue
                if start < c_start:
                    cut.append((start, c_start))
                if c_end < end:
                    cut.append((c_end, end))
            windows = cut
        return windows

    # ---- index ------------------------------------------------------------------------------

    def _local_epoch(self, day: date, minute: int) -> float:
        day = day + timedelta(days=minute // MINUTES_PER_DAY)
        minute %= MINUTES_PER_DAY
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
        return local.timestamp()

    def _build(self, first_year: int, last_year: int) -> _Index:
        years = range(first_year, last_year + 1)
        statutory, days_off, closures = (
            self._holidays(years),
            self._days_off(years),
            self._closures(years),
        )
        starts: list[float] = []
        ends: list[float] = []
        day = date(first_year, 1, 1)
        last = date(last_year, 12, 31)
        while day <= last:
            if self._closed_reason(day, statutory, days_off, closures) is None:
                for start_min, end_min in self._windows(day, closures):
                    start, end = self._local_epoch(day, start_min), self._local_epoch(day, end_min)
                    if end <= start:
                        continue
                    if ends and start <= ends[-1]:  # adjacent or overlapping: merge
                        ends[-1] = max(ends[-1], end)
                    else:
                        starts.append(start)
                        ends.append(end)
            day += timedelta(days=1)
        cum_start: list[float] = []
        cum_end: list[float] = []
        total = 0.0
        for start, end in zip(starts, ends, strict=True):
            cum_start.append(total)
            total += end - start
            cum_end.append(total)
        return _Index(first_year, last_year, starts, ends, cum_start, cum_end)

    def _year_of(self, epoch: float) -> int:
        return datetime.fromtimestamp(epoch, self.tz).year

    def _index_covering(self, epoch: float) -> _Index:
        index = self._index
        if index is not None and index.starts and index.starts[0] <= epoch <= index.ends[-1]:
            return index
        year = self._year_of(epoch)
        if index is None:
            return self._grow(year - 1, year + 1)
        return self._grow(min(index.first_year, year - 1), max(index.last_year, year + 1))

    def _grow(self, first_year: int, last_year: int) -> _Index:
        with self._lock:
            index = self._index
            if index is not None:
                first_year = min(first_year, index.first_year)
                last_year = max(last_year, index.last_year)
                if (first_year, last_year) == (index.first_year, index.last_year):
                    return index
            if last_year - first_year > _MAX_INDEX_YEARS:
                raise CalendarError(f"calendar {self.name}: instant out of range")
            self._index = self._build(first_year, last_year)
            return self._index

    # ---- arithmetic -------------------------------------------------------------------------

    @staticmethod
    def _position(index: _Index, epoch: float) -> tuple[int, float]:
        """(interval at or before epoch, business seconds before epoch)."""
        i = bisect_right(index.starts, epoch) - 1
        if i < 0:
            return -1, 0.0
        return i, index.cum_start[i] + min(epoch, index.ends[i]) - index.starts[i]

    def business_seconds_before(self, moment: datetime) -> float:
        epoch = _epoch(moment)
        return self._position(self._index_covering(epoch), epoch)[1]

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from `start` to `end` (negative when end is before start)."""
        a, b = _epoch(start), _epoch(end)
        self._index_covering(a)
        index = self._index_covering(b)
        return self._position(index, b)[1] - self._position(index, a)[1]

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if the calendar is working then, else the next opening."""
        epoch = _epoch(moment)
        while True:
            index = self._index_covering(epoch)
            i = bisect_right(index.starts, epoch) - 1
            if i >= 0 and epoch < index.ends[i]:
                return moment
            if i + 1 < len(index.starts):
                return _from_epoch(index.starts[i + 1])
            self._grow(index.first_year, index.last_year + 1)

    def is_working(self, moment: datetime) -> bool:
        return self.next_open(moment) == moment

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of business time have run from `start`.

        The clock starts at the next opening when `start` is outside working time. A result that
        lands exactly on a closing time stays there (Friday 19:00, not Monday 08:00).
        """
        if seconds < 0:
            raise ValueError("cannot add a negative duration")
        if seconds == 0:
            return self.next_open(start)
        epoch = _epoch(start)
        index = self._index  # hot path: the index usually covers the instant already
        if index is None or not index.starts or not index.starts[0] <= epoch <= index.ends[-1]:
            index = self._index_covering(epoch)
        target = self._position(index, epoch)[1] + seconds
        while True:
            j = bisect_left(index.cum_end, target)
            if j < len(index.cum_end):
                return _from_epoch(index.ends[j] - (index.cum_end[j] - target))
            index = self._grow(index.first_year, index.last_year + 1 + int(seconds // 3e7))

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The working intervals inside [start, end], clipped."""
        a, b = _epoch(start), _epoch(end)
        if b <= a:
            return []
        self._index_covering(a)
        index = self._index_covering(b)
        i = max(bisect_right(index.starts, a) - 1, 0)
        found: list[tuple[datetime, datetime]] = []
        while i < len(index.starts) and index.starts[i] < b:
            lo, hi = max(index.starts[i], a), min(index.ends[i], b)
            if hi > lo:
                found.append((_from_epoch(lo), _from_epoch(hi)))
            i += 1
        return found

    def closed_days(self, start: datetime, end: datetime) -> list[ClosedDay]:
        """Whole local days between `start` and `end` on which the calendar does not work."""
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        years = range(first.year, last.year + 1)
        statutory, days_off, closures = (
            self._holidays(years),
            self._days_off(years),
            self._closures(years),
        )
        found = []
        day = first
        while day <= last:
            reason = self._closed_reason(day, statutory, days_off, closures)
            if reason is not None:
                found.append(reason)
            day += timedelta(days=1)
        return found


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("business-time arithmetic needs timezone-aware datetimes")
    return moment.timestamp()


def _from_epoch(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def parse_clock(text: str) -> int:
    """ "08:00" -> 480 minutes; "24:00" is allowed as the end of a day."""
    hours, _, minutes = str(text).strip().partition(":")
    try:
        h, m = int(hours), int(minutes or 0)
    except ValueError:
        raise CalendarError(f'"{text}" is not a time HH:MM') from None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise CalendarError(f'"{text}" is not a time HH:MM')
    return h * 60 + m


def parse_window(text: str) -> tuple[int, int]:
    """ "08:00-19:00" -> (480, 1140)."""
    start, sep, end = str(text).partition("-")
    if not sep:
        raise CalendarError(f'"{text}" is not a window HH:MM-HH:MM')
    lo, hi = parse_clock(start), parse_clock(end)
    if hi <= lo:
        raise CalendarError(f'"{text}" ends before it starts')
    return lo, hi
