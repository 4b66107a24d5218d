"""Status scenarios under the shipped Ignus policy (warning at 75 % of a deadline's business time,
or at the resolution target when it comes first).

Ticket: High, created Tuesday 24 Nov 2026 10:00 Mexico City: response due 11:00 (warning 10:45),
resolution target Wed 25 Nov 10:00, resolution due Fri 27 Nov 10:00.
"""

from __future__ import annotations

from dataclasses import replace

from integration.rules import compute_deadlines, evaluate, vendor_wait_seconds
from integration.rules.deadlines import VendorWait
from tests.rules.helpers import POLICY, mx, ticket

HIGH = ticket("2026-11-24 10:00", "High")
DEADLINES = compute_deadlines(POLICY, HIGH)


def test_on_track_until_the_response_warning() -> None:
    status = evaluate(HIGH, DEADLINES, mx("2026-11-24 10:30"))
    assert status.status == "On track"
    assert status.next_change_at == mx("2026-11-24 10:45")


def test_at_risk_after_the_response_warning() -> None:
    status = evaluate(HIGH, DEADLINES, mx("2026-11-24 10:50"))
    assert status.status == "At risk"
    assert status.next_change_at == mx("2026-11-24 11:00")


def test_breached_when_no_response_by_the_due_time() -> None:
    status = evaluate(HIGH, DEADLINES, mx("2026-11-24 11:00"))
    assert status.status == "Breached"
    assert status.response == "breached"
    assert status.next_change_at is None


def test_answered_in_time_then_at_risk_from_the_resolution_target() -> None:
    answered = replace(HIGH, first_response_at=mx("2026-11-24 10:20"))
    assert evaluate(answered, DEADLINES, mx("2026-11-24 12:00")).status == "On track"
    assert evaluate(answered, DEADLINES, mx("2026-11-24 12:00")).next_change_at == mx(
        "2026-11-25 10:00"
    )
    assert evaluate(answered, DEADLINES, mx("2026-11-25 10:00")).status == "At risk"


def test_closed_within_deadlines_is_met() -> None:
    closed = replace(
        HIGH, first_response_at=mx("2026-11-24 10:20"), closed_at=mx("2026-11-26 12:00")
    )
    assert evaluate(closed, DEADLINES, mx("2026-12-10 12:00")).status == "Met"


def test_closed_after_the_due_time_stays_breached() -> None:
    closed = replace(
        HIGH, first_response_at=mx("2026-11-24 10:20"), closed_at=mx("2026-11-27 10:01")
    )
    assert evaluate(closed, DEADLINES, mx("2026-12-10 12:00")).status == "Breached"


def test_late_first_response_is_a_breach_even_after_closing() -> None:
    closed = replace(
        HIGH, first_response_at=mx("2026-11-24 11:30"), closed_at=mx("2026-11-24 12:00")
    )
    assert evaluate(closed, DEADLINES, mx("2026-11-24 12:00")).status == "Breached"


def test_vendor_wait_is_counted_per_vendor() -> None:
    history = replace(
        HIGH,
        kind="third_party",
        vendor="Zoho",
        vendor_waits=(
            VendorWait("Zoho", mx("2026-11-24 11:00"), mx("2026-11-24 15:00")),
            VendorWait("Zoho", mx("2026-11-25 09:00")),
            VendorWait("Axenda", mx("2026-11-24 12:00"), mx("2026-11-24 13:00")),
        ),
    )
    assert vendor_wait_seconds(history, mx("2026-11-25 10:00")) == {
        "Zoho": 5 * 3600.0,
        "Axenda": 3600.0,
    }
