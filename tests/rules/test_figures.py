"""A ticket's report figures from its history: business time to the first response and to the
closing (holds excluded), time on hold, ETA renegotiations.

Calendar: the shipped Ignus policy. High, Medium and Low run on office hours, Monday–Friday
08:00–19:00 America/Mexico_City (no holiday in the weeks used: Monday 30 Nov – Friday 4 Dec
2026); Urgent runs 24x7. All instants are Mexico City local times.
"""

from __future__ import annotations

from integration.rules import EtaChange, Hold, compute_deadlines, evaluate
from integration.rules.figures import CLOSED_HOLD, TicketFigures, ticket_figures
from tests.rules.helpers import HOUR, POLICY, mx, ticket


def figures(history, now: str = "2026-12-10 12:00") -> TicketFigures:  # type: ignore[no-untyped-def]
    deadlines = compute_deadlines(POLICY, history)
    return ticket_figures(POLICY, history, deadlines, evaluate(history, deadlines, mx(now)))


def test_business_time_to_the_response_and_to_the_closing() -> None:
    # Mon 09:00 -> Mon 11:30: 2.5 h. Mon 09:00 -> Tue 10:00: Mon 09-19 (10 h) + Tue 08-10 (2 h).
    f = figures(
        ticket(
            "2026-11-30 09:00",
            "High",
            first_response_at=mx("2026-11-30 11:30"),
            closed_at=mx("2026-12-01 10:00"),
            account_id="acct-1",
        )
    )
    assert f.response_business_s == 2.5 * HOUR
    assert f.resolution_business_s == 12 * HOUR
    # High: response due 1 business hour after creation (Mon 10:00: late); resolution due 3 days
    assert (f.response_state, f.resolution_state) == ("breached", "met")
    assert f.paused_s == 0 and f.eta_changes == 0
    assert (f.account_id, f.closed_at) == ("acct-1", mx("2026-12-01 10:00"))


def test_the_response_state_is_the_status_one() -> None:
    # High: first response due one business hour after Mon 09:00 = Mon 10:00; 11:30 is late.
    history = ticket("2026-11-30 09:00", "High", first_response_at=mx("2026-11-30 11:30"))
    f = figures(history, now="2026-11-30 12:00")
    assert f.response_state == "breached"
    assert f.resolution_state == "running"
    assert f.resolution_business_s is None and f.closed_at is None


def test_a_ticket_created_on_saturday_counts_from_the_monday_opening() -> None:
    # Sat 28 Nov 10:00 -> the clock starts Mon 08:00; response Mon 09:15: 1.25 h.
    f = figures(ticket("2026-11-28 10:00", "Medium", first_response_at=mx("2026-11-30 09:15")))
    assert f.response_business_s == 1.25 * HOUR


def test_urgent_counts_every_hour() -> None:
    # 24x7: Sat 10:00 -> Sat 10:10 is 600 s; closed Sat 11:40: 100 minutes.
    f = figures(
        ticket(
            "2026-11-28 10:00",
            "Urgent",
            first_response_at=mx("2026-11-28 10:10"),
            closed_at=mx("2026-11-28 11:40"),
        )
    )
    assert (f.response_business_s, f.resolution_business_s) == (600, 100 * 60)


def test_holds_are_left_out_of_business_time_and_counted_as_paused_wall_time() -> None:
    # On hold Mon 18:00 -> Tue 09:00: 15 h of wall time, 2 business hours (Mon 18-19, Tue 8-9).
    # Closed Tue 12:00: Mon 09-19 (10 h) + Tue 08-12 (4 h) - 2 h held = 12 h.
    f = figures(
        ticket(
            "2026-11-30 09:00",
            "Medium",
            holds=(Hold(mx("2026-11-30 18:00"), mx("2026-12-01 09:00")),),
            first_response_at=mx("2026-11-30 09:30"),
            closed_at=mx("2026-12-01 12:00"),
        )
    )
    assert f.paused_s == 15 * HOUR
    assert f.resolution_business_s == 12 * HOUR
    assert f.response_business_s == 0.5 * HOUR


def test_an_open_hold_counts_only_once_it_has_ended() -> None:
    history = ticket("2026-11-30 09:00", "Medium", holds=(Hold(mx("2026-11-30 10:00"), None),))
    f = figures(history)
    assert f.paused_s == 0
    assert f.response_state == "paused"


def test_the_time_closed_before_a_reopening_is_no_pause() -> None:
    # Closed Mon 12:00, reopened Tue 08:00 (a stop of the clocks, not a hold), closed Tue 09:00:
    # Mon 09-12 (3 h) + Tue 08-09 (1 h) = 4 business hours, 0 paused.
    f = figures(
        ticket(
            "2026-11-30 09:00",
            "Medium",
            holds=(Hold(mx("2026-11-30 12:00"), mx("2026-12-01 08:00"), CLOSED_HOLD),),
            closed_at=mx("2026-12-01 09:00"),
        )
    )
    assert (f.resolution_business_s, f.paused_s) == (4 * HOUR, 0)


def test_eta_renegotiations_count_moves_of_an_eta_already_set() -> None:
    a, b, c = mx("2026-12-03 18:00"), mx("2026-12-04 18:00"), mx("2026-12-07 12:00")
    etas = (
        EtaChange(mx("2026-11-30 10:00"), a),  # first set: no renegotiation
        EtaChange(mx("2026-11-30 11:00"), b),  # moved: 1
        EtaChange(mx("2026-11-30 12:00"), None),  # cleared: nothing
        EtaChange(mx("2026-11-30 13:00"), b),  # set again to the agreed one: nothing
        EtaChange(mx("2026-11-30 14:00"), c),  # moved: 2
        EtaChange(mx("2026-11-30 15:00"), c),  # the same instant written again: nothing
    )
    operations = figures(ticket("2026-11-30 09:00", "Medium", kind="operations", etas=etas))
    assert operations.eta_changes == 2
    standard = figures(ticket("2026-11-30 09:00", "Medium", etas=etas))
    assert standard.eta_changes == 0  # the ETA is operations' word only
