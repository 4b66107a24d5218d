"""Durations as the policy writes them: "15 minutes", "1 hora", "2-5 días", "1d", "90m".

A duration in days is kept in days until it meets a calendar: a "day" is one full working day of
that calendar (a reading of the policy: 11 business hours on office hours, 24 hours on 24x7).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "segundo": "seconds", "segundos": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "minuto": "minutes", "minutos": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "hora": "hours", "horas": "hours",
    "d": "days", "day": "days", "days": "days", "dia": "days", "dias": "days",
}  # fmt: skip
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_SINGLE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]+)\s*$")
_RANGE = re.compile(rf"^\s*{_NUMBER}\s*(?:-|–|to|a)\s*{_NUMBER}\s*([a-z]+)\s*$")


class DurationError(ValueError):
    pass


@dataclass(frozen=True)
class Duration:
    """An amount of business time. `days` are working days of the calendar it is applied to."""

    seconds: float = 0.0
    days: float = 0.0

    def to_seconds(self, day_length_s: float) -> float:
        return self.seconds + self.days * day_length_s

    def __str__(self) -> str:
        if self.days and not self.seconds:
            return f"{self.days:g} day" + ("" if self.days == 1 else "s")
        return _format_seconds(self.seconds)


def _format_seconds(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            n = seconds / size
            return f"{n:g} {unit}" + ("" if n == 1 else "s")
    return f"{seconds:g} seconds"


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _make(amount: str, unit_word: str, original: str) -> Duration:
    unit = _UNITS.get(unit_word)
    value = float(amount.replace(",", "."))
    if unit is None:
        raise DurationError(f'"{original}" is not a duration')
    if value < 0:
        raise DurationError(f'"{original}" is negative')
    if unit == "days":
        return Duration(days=value)
    return Duration(seconds=value * _SECONDS[unit])


def parse_duration(text: str) -> Duration:
    match = _SINGLE.match(_ascii(str(text)))
    if not match:
        raise DurationError(f'"{text}" is not a duration')
    return _make(match.group(1), match.group(2), text)


def parse_range(value: str | list[str]) -> tuple[Duration, Duration]:
    """A target band: "1-3 days" or ["1 day", "3 days"] -> (lower, upper); "2 hours" -> (2h, 2h)."""
    if isinstance(value, list):
        if len(value) != 2:
            raise DurationError(f"{value!r} is not a range of two durations")
        low, high = parse_duration(value[0]), parse_duration(value[1])
    else:
        match = _RANGE.match(_ascii(str(value)))
        if match:
            low = _make(match.group(1), match.group(3), value)
            high = _make(match.group(2), match.group(3), value)
        else:
            low = high = parse_duration(value)
    same_unit = (low.days == high.days == 0) or (low.seconds == high.seconds == 0)
    if same_unit and (low.days, low.seconds) > (high.days, high.seconds):
        raise DurationError(f'"{value}": the lower bound is above the upper bound')
    return low, high
