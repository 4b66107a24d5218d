"""The policy file: the shipped one loads; mistakes name the key and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.rules import PolicyError, load_policy
from tests.rules.helpers import policy_with


def test_the_shipped_policy_has_the_four_priorities_of_the_seed() -> None:
    policy = load_policy()
    assert list(policy.priorities) == ["Urgent", "High", "Medium", "Low"]
    assert [p.targets.calendar for p in policy.priorities.values()] == [
        "24x7",
        "office",
        "office",
        "office",
    ]


@pytest.mark.parametrize("name", ["Urgente", "urgent", "ALTA", "high", "Media", "baja", "Bajo"])
def test_priorities_are_known_in_spanish_and_english_any_case(name: str) -> None:
    assert load_policy().priority(name).key in {"Urgent", "High", "Medium", "Low"}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {
                "priorities": {
                    "High": {
                        "rank": 2,
                        "calendar": "office",
                        "response": "1 dya",
                        "resolution": "1-3 days",
                    }
                }
            },
            'priorities.High.response: "1 dya" is not a duration',
        ),
        (
            {
                "priorities": {
                    "High": {
                        "rank": 2,
                        "calendar": "nope",
                        "response": "1 hour",
                        "resolution": "1-3 days",
                    }
                }
            },
            'priorities.High.calendar: "nope" is not a calendar of this policy',
        ),
        (
            {"readings": {"priority_change": "sometimes"}},
            'readings.priority_change: "sometimes" is not one of restart_at_change, from_creation',
        ),
        (
            {"rules": [{"id": "x", "priority": "Critical", "keywords": ["caido"]}]},
            'rules.x.priority: "Critical" is not a priority of this policy',
        ),
        (
            {"rules": [{"id": "x", "priority": "High", "match": {"colour": "red"}}]},
            'rules.x.match.colour: "colour" is not a field a rule can match',
        ),
        (
            {"calendars": {"office": {"mon": ["19:00-08:00"]}}},
            'calendars.office.mon[0]: "19:00-08:00" ends before it starts',
        ),
        (
            {
                "policy": {
                    "name": "x",
                    "version": "1",
                    "timezone": "Mars/Olympus",
                    "default_priority": "High",
                }
            },
            'policy.timezone: "Mars/Olympus" is not an IANA time zone',
        ),
    ],
)
def test_mistakes_name_the_key_and_the_value(sections: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PolicyError) as error:
        policy_with(**sections)
    assert str(error.value) == message


def test_a_missing_file_and_bad_toml_are_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(bad)


def test_the_rules_package_imports_no_io_framework() -> None:
    """Pure core: integration.rules must not import Flask, SQLAlchemy or requests."""
    import subprocess
    import sys

    code = (
        "import sys, integration.rules; "
        "bad = [m for m in ('flask', 'sqlalchemy', 'requests') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    # integration/__init__ imports the app factory (Flask); import the subpackage on its own.
    probe = (
        "import importlib.util, sys, types; "
        "pkg = types.ModuleType('integration'); pkg.__path__ = ['integration']; "
        "sys.modules['integration'] = pkg; " + code
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


PLAN = {
    "id": "acme",
    "accounts": ["1"],
    "priorities": {
        "High": {"calendar": "24x7", "response": "30 minutes", "resolution": "4-8 hours"}
    },
}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"readings": {"warning_fracton": 0.5}},
            'readings.warning_fracton: unknown key (did you mean "warning_fraction"?); known keys: '
            "escalation_never_later, never_pause_statuses, pause_status_types, pause_statuses, "
            "priority_change, warning_fraction",
        ),
        (
            {
                "priorities": {
                    "High": {
                        "rank": 2,
                        "calendar": "office",
                        "respnse": "1 hour",
                        "response": "1 hour",
                        "resolution": "1-3 days",
                    }
                }
            },
            'priorities.High.respnse: unknown key (did you mean "response"?); known keys: '
            "calendar, names, rank, resolution, response, zoho_value",
        ),
        (
            {"fields": {"write_due_dates": True}},
            'fields.write_due_dates: unknown key (did you mean "write_due_date"?)',
        ),
        (
            {"dedicated_plans": [{**PLAN, "valid_from": "2026-03-01", "valid_to": "2026-01-31"}]},
            "dedicated_plans.acme.valid_from: 2026-03-01 is after valid_to 2026-01-31",
        ),
        (
            {"calendars": {"office": {"mon": ["08:00-14:00", "13:00-19:00"]}}},
            "calendars.office.mon: opening windows overlap (08:00-14:00 and 13:00-19:00)",
        ),
        (
            {
                "priorities": {
                    "High": {
                        "rank": 2,
                        "names": ["Alta", "Media"],
                        "calendar": "office",
                        "response": "1 hour",
                        "resolution": "1-3 days",
                    }
                }
            },
            'priorities.Medium.names: "media" is also a name of High',
        ),
        (
            {
                "priorities": {
                    "High": {
                        "rank": 2,
                        "calendar": "office",
                        "response": "0 minutes",
                        "resolution": "1-3 days",
                    }
                }
            },
            "priorities.High.response: a deadline of zero time is not a deadline",
        ),
    ],
)
def test_policy_file_validation_names_the_mistake(sections: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PolicyError) as error:
        policy_with(**sections)
    assert str(error.value).startswith(message)


def test_a_toml_datetime_where_a_date_is_expected_is_refused() -> None:
    from datetime import datetime

    plan = {**PLAN, "valid_from": datetime(2026, 1, 1, 9, 0)}
    with pytest.raises(PolicyError) as error:
        policy_with(dedicated_plans=[plan])
    assert str(error.value) == (
        "dedicated_plans.acme.valid_from: 2026-01-01T09:00:00 is a date and time; give a date"
    )
