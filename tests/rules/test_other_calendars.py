"""Calendars other than the shipped office hours.

- 24x7 (shipped): every hour of every day, America/Mexico_City, no exception dates.
- A 24x7 calendar with an exception date, company days off and a half-day closure, built from a
  policy file written in each test.
- A DST zone: America/Tijuana (UTC−8 in winter, UTC−7 from 8 Mar 2026), office hours 08:00–19:00.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from integration.rules.calendar import BusinessCalendar, DateRule, DayOff, PartialClosure
from tests.rules.helpers import HOUR, POLICY, mx

TWENTY_FOUR_SEVEN = POLICY.calendars["24x7"]
TIJUANA = ZoneInfo("America/Tijuana")
WEEKDAYS_8_TO_19 = tuple([((480, 1140),)] * 5 + [(), ()])


def test_24x7_runs_across_midnight() -> None:
    assert TWENTY_FOUR_SEVEN.add(mx("2026-11-27 23:50"), 15 * 60) == mx("2026-11-28 00:05")


def test_24x7_runs_on_weekends_and_holidays() -> None:
    # Wednesday 16 Sep 2026 is Independence Day; Urgent does not stop for it.
    assert TWENTY_FOUR_SEVEN.add(mx("2026-09-15 23:00"), 2 * HOUR) == mx("2026-09-16 01:00")


def test_24x7_exception_date_stops_the_clock() -> None:
    calendar = BusinessCalendar(
        "24x7",
        "America/Mexico_City",
        always_open=True,
        days_off=(DayOff(DateRule("12-25"), "Navidad"),),
    )
    assert calendar.add(mx("2026-12-24 23:00"), 2 * HOUR) == mx("2026-12-26 01:00")


def test_company_days_off_by_date_and_by_easter() -> None:
    # Easter 2026 is 5 April: Holy Thursday 2 Apr and Holy Friday 3 Apr are days off.
    calendar = BusinessCalendar(
        "office",
        "America/Mexico_City",
        week=WEEKDAYS_8_TO_19,
        holiday_country="MX",
        days_off=(DayOff(DateRule("easter-3"), "Jueves Santo"), DayOff(DateRule("easter-2"))),
    )
    assert calendar.add(mx("2026-04-01 18:00"), 2 * HOUR) == mx("2026-04-06 09:00")


def test_half_day_closure_counts_only_the_open_morning() -> None:
    # 24 Dec 2026 (Thursday): open 08:00–14:00 only.
    calendar = BusinessCalendar(
        "office",
        "America/Mexico_City",
        week=WEEKDAYS_8_TO_19,
        holiday_country="MX",
        closures=(PartialClosure(DateRule("12-24"), 14 * 60, 19 * 60, "Nochebuena"),),
    )
    assert calendar.add(mx("2026-12-24 13:00"), 2 * HOUR) == mx("2026-12-28 09:00")


def test_several_windows_a_day_skip_the_lunch_break() -> None:
    calendar = BusinessCalendar(
        "split", "America/Mexico_City", week=tuple([((540, 840), (900, 1080))] * 5 + [(), ()])
    )
    assert calendar.add(mx("2026-11-24 13:00"), 2 * HOUR) == mx("2026-11-24 16:00")


def test_office_hours_across_the_spring_dst_change_in_tijuana() -> None:
    calendar = BusinessCalendar("tj", "America/Tijuana", week=WEEKDAYS_8_TO_19)
    # Friday 6 Mar 2026 18:00 PST (UTC−8) + 2 h -> Monday 9 Mar 09:00 PDT (UTC−7).
    due = calendar.add(mx("2026-03-06 18:00", TIJUANA), 2 * HOUR)
    assert due == mx("2026-03-09 09:00", TIJUANA)
    assert due.isoformat() == "2026-03-09T16:00:00+00:00"


def test_24x7_across_the_autumn_dst_change_counts_real_hours() -> None:
    calendar = BusinessCalendar("tj", "America/Tijuana", always_open=True)
    # 1 Nov 2026, clocks go back at 02:00 PDT: 00:30 PDT + 3 h = 02:30 PST.
    start = mx("2026-11-01 00:30", TIJUANA)
    due = calendar.add(start, 3 * HOUR)
    assert (due - start).total_seconds() == 3 * HOUR
    assert due.isoformat() == "2026-11-01T10:30:00+00:00"
