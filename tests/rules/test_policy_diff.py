"""What a policy change means for one ticket: `PolicyDiff.reasons`.

Policy: the shipped Ignus policy; the `office` calendar opens Monday to Friday 08:00-19:00
America/Mexico_City, with Mexico's statutory holidays (Monday 16 Nov 2026 is Revolution Day).
"""

from __future__ import annotations

import tomllib
from datetime import date

from integration.rules.policy import parse_policy, shipped_policy_path
from integration.rules.policy_diff import PolicyDiff

TEXT = shipped_policy_path().read_text(encoding="utf-8")


def edited(old: str, new: str):  # type: ignore[no-untyped-def]
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    return parse_policy(tomllib.loads(text), source=text)


BASE = parse_policy(tomllib.loads(TEXT), source=TEXT)
NOV_30 = 'days_off = [ { date = "2026-11-30", name = "Día de la empresa" } ]'


def test_an_unchanged_policy_gives_no_reason() -> None:
    diff = PolicyDiff(BASE, parse_policy(tomllib.loads(TEXT), source=TEXT))
    assert diff.same
    assert diff.reasons("office", "High", date(2026, 11, 27), date(2026, 12, 4)) == []


def test_a_day_off_inside_the_window_is_named_with_its_date_and_name() -> None:
    diff = PolicyDiff(BASE, edited("days_off = []", NOV_30))
    assert diff.reasons("office", "High", date(2026, 11, 27), date(2026, 12, 4)) == [
        "2026-11-30 on office: a working day → day off (Día de la empresa)"
    ]


def test_a_day_off_outside_the_window_or_on_another_calendar_is_no_reason() -> None:
    diff = PolicyDiff(BASE, edited("days_off = []", NOV_30))
    assert diff.reasons("office", "High", date(2026, 12, 1), date(2026, 12, 4)) == []
    assert diff.reasons("24x7", "Urgent", date(2026, 11, 27), date(2026, 12, 4)) == []


def test_a_target_change_names_the_priority_the_target_and_both_values() -> None:
    old = 'zoho_value = "High"\ncalendar = "office"\nresponse = "1 hour"'
    new = 'zoho_value = "High"\ncalendar = "office"\nresponse = "2 hours"'
    diff = PolicyDiff(BASE, edited(old, new))
    assert diff.reasons("office", "High", date(2026, 11, 27), date(2026, 11, 27)) == [
        "High response: 1 hour → 2 hours"
    ]
    assert diff.reasons("office", "Medium", date(2026, 11, 27), date(2026, 11, 27)) == []


def test_a_changed_reading_is_named() -> None:
    assert "warning_fraction = 0.75" in TEXT
    diff = PolicyDiff(BASE, edited("warning_fraction = 0.75", "warning_fraction = 0.5"))
    assert diff.reasons("office", "High", date(2026, 11, 27), date(2026, 11, 27)) == [
        "reading warning_fraction: 0.75 → 0.5"
    ]


def test_the_revision_changes_with_the_content_even_when_the_version_is_not_bumped() -> None:
    changed = edited("days_off = []", NOV_30)
    assert changed.version == BASE.version
    assert changed.revision != BASE.revision
