"""Deadline scenarios under the shipped Ignus policy.

Policy: Urgent 15 min / 2 h on 24x7; High 1 h / 1–3 days, Medium 1 day / 2–5 days, Low 1 day /
5–10 days on office hours (Mon–Fri 08:00–19:00 America/Mexico_City, a day = 11 h, holidays.MX).
Readings: priority change restarts at the change; an escalation never moves the resolution due
later; a met first response stays met; holds stop every clock.
"""

from __future__ import annotations

from dataclasses import replace

from integration.rules import (
    EtaChange,
    Hold,
    PriorityChange,
    compute_deadlines,
    evaluate,
)
from tests.rules.helpers import HOUR, POLICY, mx, policy_with, ticket


def test_high_created_friday_evening() -> None:
    d = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High"))
    assert d.calendar == "office"
    assert d.response_due == mx("2026-11-30 08:30")
    assert d.resolution_target.due == mx("2026-11-30 18:30")  # 1 day = 11 h
    assert d.resolution_due.due == mx("2026-12-02 18:30")  # 3 days = 33 h


def test_urgent_runs_on_the_24x7_clock_at_night() -> None:
    d = compute_deadlines(POLICY, ticket("2026-11-28 02:00", "Urgente"))
    assert d.calendar == "24x7"
    assert d.response_due == mx("2026-11-28 02:15")
    assert d.resolution_target.due == d.resolution_due.due == mx("2026-11-28 04:00")


def test_low_ten_days_skip_weekends_and_revolution_day() -> None:
    # Monday 9 Nov 2026 10:00 + 10 working days; Mon 16 Nov is a holiday -> Tue 24 Nov 10:00.
    d = compute_deadlines(POLICY, ticket("2026-11-09 10:00", "Low"))
    assert d.resolution_target.due == mx("2026-11-17 10:00")
    assert d.resolution_due.due == mx("2026-11-24 10:00")


def test_counted_intervals_add_up_to_the_target() -> None:
    d = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High"))
    counted = d.resolution_due.counted()
    assert sum((b - a).total_seconds() for a, b in counted) == 33 * HOUR
    assert counted[0][0] == mx("2026-11-27 18:30")
    assert counted[-1][1] == mx("2026-12-02 18:30")


def test_hold_across_a_night_moves_deadlines_by_the_held_business_time() -> None:
    # On hold Monday 10:00 -> Tuesday 09:00: 9 h + 1 h = 10 business hours held.
    hold = Hold(mx("2026-11-30 10:00"), mx("2026-12-01 09:00"))
    plain = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High"))
    held = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High", holds=(hold,)))
    assert held.response_due == plain.response_due  # response was due before the hold began
    assert held.resolution_due.due == mx("2026-12-03 17:30")
    office = POLICY.calendars["office"]
    assert office.between(plain.resolution_due.due, held.resolution_due.due) == 10 * HOUR


def test_hold_across_a_holiday_counts_no_holiday_time() -> None:
    # High created Friday 13 Nov 17:30 (response due 18:30). Held Friday 18:00 -> Tuesday 17 Nov
    # 08:00, over the weekend and Revolution Day (Mon 16): 30 minutes are left after the hold.
    hold = Hold(mx("2026-11-13 18:00"), mx("2026-11-17 08:00"))
    d = compute_deadlines(POLICY, ticket("2026-11-13 17:30", "High", holds=(hold,)))
    assert d.response_due == mx("2026-11-17 08:30")


def test_a_hold_starting_exactly_at_the_deadline_does_not_move_it() -> None:
    hold = Hold(mx("2026-11-13 18:00"), mx("2026-11-17 08:00"))
    d = compute_deadlines(POLICY, ticket("2026-11-13 17:00", "High", holds=(hold,)))
    assert d.response_due == mx("2026-11-13 18:00")


def test_open_hold_pauses_every_clock() -> None:
    history = ticket("2026-11-24 10:00", "High", holds=(Hold(mx("2026-11-24 10:30")),))
    d = compute_deadlines(POLICY, history)
    assert d.response_due is None and d.resolution_due.due is None
    assert d.paused_since == mx("2026-11-24 10:30")
    assert evaluate(history, d, mx("2026-11-25 12:00")).status == "Paused"


def test_a_hold_ended_before_it_could_matter_changes_nothing() -> None:
    hold = Hold(mx("2026-11-28 10:00"), mx("2026-11-29 10:00"))  # a weekend
    with_hold = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High", holds=(hold,)))
    without = compute_deadlines(POLICY, ticket("2026-11-27 18:30", "High"))
    assert with_hold.resolution_due.due == without.resolution_due.due


def test_priority_change_restarts_targets_at_the_change() -> None:
    # Medium on Tuesday 10:00; lowered to Low on Wednesday 10:00.
    history = ticket("2026-11-24 10:00", "Medium")
    history = replace(
        history, priorities=(*history.priorities, PriorityChange(mx("2026-11-25 10:00"), "Low"))
    )
    d = compute_deadlines(POLICY, history)
    assert d.priority.key == "Low"
    assert d.response_due == mx("2026-11-26 10:00")
    assert d.resolution_due.due == mx("2026-12-09 10:00")  # 10 working days from the change


def test_escalation_never_moves_the_resolution_due_later() -> None:
    # Low on Monday 9 Nov 10:00 (due Tue 24 Nov 10:00). Escalated to High on Mon 23 Nov 10:00:
    # High from the change would give Thu 26 Nov 10:00, later than the Low due, so it stays.
    history = ticket("2026-11-09 10:00", "Low")
    history = replace(
        history, priorities=(*history.priorities, PriorityChange(mx("2026-11-23 10:00"), "High"))
    )
    d = compute_deadlines(POLICY, history)
    assert d.priority.key == "High"
    assert d.resolution_due.due == mx("2026-11-24 10:00")
    assert "escalation" in d.resolution_due.note
    assert d.response_due == mx("2026-11-23 11:00")  # response restarts at the change


def test_escalation_to_urgent_switches_to_the_24x7_clock() -> None:
    history = ticket("2026-11-27 18:00", "Low")
    history = replace(
        history,
        priorities=(*history.priorities, PriorityChange(mx("2026-11-27 22:00"), "Urgent")),
    )
    d = compute_deadlines(POLICY, history)
    assert d.calendar == "24x7"
    assert d.response_due == mx("2026-11-27 22:15")
    assert d.resolution_due.due == mx("2026-11-28 00:00")


def test_from_creation_reading_measures_the_new_priority_from_creation() -> None:
    policy = policy_with(readings={"priority_change": "from_creation"})
    history = ticket("2026-11-24 10:00", "Medium")
    history = replace(
        history, priorities=(*history.priorities, PriorityChange(mx("2026-11-25 10:00"), "Low"))
    )
    d = compute_deadlines(policy, history)
    assert d.response_due == mx("2026-11-25 10:00")
    assert d.resolution_due.due == mx("2026-12-08 10:00")  # 10 days from Tue 24 Nov


def test_a_met_first_response_stays_met_after_a_priority_change() -> None:
    # High at 10:00 (response due 11:00), answered 10:40, escalated to Urgent at 12:00.
    history = ticket("2026-11-24 10:00", "High", first_response_at=mx("2026-11-24 10:40"))
    history = replace(
        history,
        priorities=(*history.priorities, PriorityChange(mx("2026-11-24 12:00"), "Urgent")),
    )
    d = compute_deadlines(POLICY, history)
    assert d.response_due == mx("2026-11-24 11:00")
    status = evaluate(history, d, mx("2026-11-24 12:30"))
    assert status.response == "met"


def test_same_priority_set_again_does_not_restart_the_clock() -> None:
    history = ticket("2026-11-24 10:00", "High")
    again = replace(
        history, priorities=(*history.priorities, PriorityChange(mx("2026-11-24 15:00"), "Alta"))
    )
    assert compute_deadlines(POLICY, again).response_due == mx("2026-11-24 11:00")


def test_third_party_request_has_no_resolution_deadline() -> None:
    history = ticket(
        "2026-11-24 10:00",
        "Medium",
        kind="third_party",
        vendor="Zoho",
        first_response_at=mx("2026-11-24 11:00"),
    )
    d = compute_deadlines(POLICY, history)
    assert d.response_due == mx("2026-11-25 10:00")
    assert d.resolution_due.due is None and d.resolution_target.due is None
    assert evaluate(history, d, mx("2026-11-30 10:00")).status == "Waiting on third party"


def test_operations_request_is_eta_pending_until_an_eta_is_set() -> None:
    history = ticket(
        "2026-11-24 10:00", "Medium", kind="operations", first_response_at=mx("2026-11-24 11:00")
    )
    d = compute_deadlines(POLICY, history)
    assert d.resolution_due.due is None
    assert evaluate(history, d, mx("2026-11-24 12:00")).status == "ETA pending"


def test_operations_resolution_due_is_the_latest_eta() -> None:
    history = ticket(
        "2026-11-24 10:00",
        "Medium",
        kind="operations",
        etas=(
            EtaChange(mx("2026-11-24 12:00"), mx("2026-12-04 18:00")),
            EtaChange(mx("2026-12-01 12:00"), mx("2026-12-11 18:00")),  # renegotiated
        ),
    )
    d = compute_deadlines(POLICY, history)
    assert d.resolution_due.due == mx("2026-12-11 18:00")
    assert evaluate(history, d, mx("2026-12-11 18:01")).status == "Breached"


def test_quote_awaiting_authorisation_pauses_like_a_hold() -> None:
    # Billable: quote sent Tue 10:30, authorised Thu 10:30 (two working days held).
    quote = Hold(mx("2026-11-24 10:30"), mx("2026-11-26 10:30"), reason="quote pending")
    history = ticket("2026-11-24 10:00", "Medium", kind="billable", holds=(quote,))
    d = compute_deadlines(POLICY, history)
    assert d.response_due == mx("2026-11-27 10:00")


def test_dedicated_support_plan_applies_inside_its_window_only() -> None:
    policy = policy_with(
        dedicated_plans=[
            {
                "id": "acme",
                "accounts": ["42"],
                "valid_from": "2026-11-01",
                "valid_to": "2026-11-30",
                "priorities": {
                    "High": {
                        "calendar": "24x7",
                        "response": "30 minutes",
                        "resolution": "4-8 hours",
                    }
                },
            }
        ]
    )
    inside = compute_deadlines(policy, ticket("2026-11-28 12:00", "High", account_id="42"))
    assert inside.plan is not None and inside.plan.id == "acme"
    assert inside.response_due == mx("2026-11-28 12:30")
    assert inside.resolution_due.due == mx("2026-11-28 20:00")
    outside = compute_deadlines(policy, ticket("2026-12-01 12:00", "High", account_id="42"))
    assert outside.plan is None
    assert outside.response_due == mx("2026-12-01 13:00")
    other = compute_deadlines(policy, ticket("2026-11-28 12:00", "High", account_id="7"))
    assert other.plan is None


def test_priority_changes_given_out_of_order_are_applied_in_time_order() -> None:
    history = ticket("2026-11-24 10:00", "Medium")
    ordered = replace(
        history,
        priorities=(
            *history.priorities,
            PriorityChange(mx("2026-11-24 11:00"), "Low"),
            PriorityChange(mx("2026-11-24 12:00"), "High"),
        ),
    )
    shuffled = replace(
        ordered, priorities=(ordered.priorities[0], *reversed(ordered.priorities[1:]))
    )
    a, b = compute_deadlines(POLICY, ordered), compute_deadlines(POLICY, shuffled)
    assert a.priority.key == b.priority.key == "High"
    assert a.response_due == b.response_due == mx("2026-11-24 13:00")
