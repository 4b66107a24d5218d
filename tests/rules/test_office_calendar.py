"""Office calendar scenarios.

Calendar: Ignus office hours, Monday–Friday 08:00–19:00, America/Mexico_City (UTC−6 all year),
Mexican statutory rest days from `holidays.MX` (LFT art. 74), no company days off (shipped policy).
A "day" is 11 business hours.
"""

from __future__ import annotations

import pytest

from tests.rules.helpers import HOUR, POLICY, mx

OFFICE = POLICY.calendars["office"]


def test_a_day_is_eleven_business_hours() -> None:
    assert OFFICE.day_length_s == 11 * HOUR


def test_one_day_from_tuesday_morning_is_wednesday_same_time() -> None:
    assert OFFICE.add(mx("2026-11-24 10:00"), 11 * HOUR) == mx("2026-11-25 10:00")


def test_friday_evening_continues_on_monday_morning() -> None:
    assert OFFICE.add(mx("2026-11-27 18:30"), HOUR) == mx("2026-11-30 08:30")


def test_saturday_creation_starts_the_clock_on_monday_opening() -> None:
    assert OFFICE.add(mx("2026-11-28 12:00"), HOUR) == mx("2026-11-30 09:00")


def test_before_opening_the_clock_starts_at_eight() -> None:
    assert OFFICE.add(mx("2026-11-24 06:00"), HOUR) == mx("2026-11-24 09:00")


def test_a_deadline_landing_exactly_at_closing_stays_at_closing() -> None:
    assert OFFICE.add(mx("2026-11-27 08:00"), 11 * HOUR) == mx("2026-11-27 19:00")


def test_a_ticket_created_exactly_at_closing_starts_next_working_morning() -> None:
    assert OFFICE.add(mx("2026-11-27 19:00"), HOUR) == mx("2026-11-30 09:00")


def test_zero_duration_is_the_clock_start() -> None:
    assert OFFICE.add(mx("2026-11-28 12:00"), 0) == mx("2026-11-30 08:00")


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        # fixed date: Independence Day, Wednesday 16 Sep 2026
        ("Independence Day", "2026-09-15 18:00", "2026-09-17 09:00"),
        # fixed date: Labour Day, Friday 1 May 2026
        ("Labour Day", "2026-04-30 18:00", "2026-05-04 09:00"),
        # fixed date: Christmas, Friday 25 Dec 2026
        ("Christmas", "2026-12-24 18:00", "2026-12-28 09:00"),
        # fixed date: New Year, Friday 1 Jan 2027
        ("New Year", "2026-12-31 18:00", "2027-01-04 09:00"),
        # first Monday of February: Constitution Day, 2 Feb 2026
        ("Constitution Day", "2026-01-30 18:00", "2026-02-03 09:00"),
        # third Monday of March: Juárez, 16 Mar 2026
        ("Benito Juárez", "2026-03-13 18:00", "2026-03-17 09:00"),
        # third Monday of November: Revolution Day, 16 Nov 2026
        ("Revolution Day", "2026-11-13 18:00", "2026-11-17 09:00"),
        # 1 October of a change-of-government year: Tuesday 1 Oct 2024, and 2030
        ("Change of government 2024", "2024-09-30 18:00", "2024-10-02 09:00"),
        ("Change of government 2030", "2030-09-30 18:00", "2030-10-02 09:00"),
    ],
)
def test_statutory_holidays_are_skipped(name: str, before: str, after: str) -> None:
    assert OFFICE.add(mx(before), 2 * HOUR) == mx(after), name


def test_first_of_october_is_a_working_day_outside_change_of_government_years() -> None:
    assert OFFICE.add(mx("2026-10-01 10:00"), HOUR) == mx("2026-10-01 11:00")


def test_december_31_is_not_a_holiday() -> None:
    assert OFFICE.add(mx("2026-12-31 10:00"), HOUR) == mx("2026-12-31 11:00")


def test_between_counts_only_business_time() -> None:
    # Friday 18:00 to Monday 09:00: one hour on Friday, one on Monday.
    assert OFFICE.between(mx("2026-11-27 18:00"), mx("2026-11-30 09:00")) == 2 * HOUR


def test_closed_days_name_weekends_and_holidays() -> None:
    closed = OFFICE.closed_days(mx("2026-11-13 18:00"), mx("2026-11-17 09:00"))
    assert [(d.day.isoformat(), d.reason) for d in closed] == [
        ("2026-11-14", "weekend"),
        ("2026-11-15", "weekend"),
        ("2026-11-16", "holiday"),
    ]


def test_deadlines_years_ahead_extend_the_index() -> None:
    # 300 working days of 11 h from a Monday morning still land inside working time.
    due = OFFICE.add(mx("2026-01-05 08:00"), 300 * 11 * HOUR)
    assert OFFICE.is_working(due) or due.astimezone(OFFICE.tz).hour == 19
