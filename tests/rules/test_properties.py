"""Properties of business-time arithmetic and deadlines, on the shipped calendars.

Instants: any second between 2024 and 2031 (covering change-of-government years and many
holidays); durations up to 20 office days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.rules import Hold, compute_deadlines
from integration.rules.deadlines import add_with_holds, merge_holds
from tests.rules.helpers import POLICY, ticket

CALENDARS = st.sampled_from([POLICY.calendars["office"], POLICY.calendars["24x7"]])
INSTANTS = st.integers(
    int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()),
    int(datetime(2031, 1, 1, tzinfo=UTC).timestamp()),
).map(lambda s: datetime.fromtimestamp(s, UTC))
DURATIONS = st.integers(0, 20 * 11 * 3600)


@given(CALENDARS, INSTANTS, DURATIONS, DURATIONS)
def test_add_is_monotonic_in_the_duration(calendar, start, d1, d2) -> None:  # type: ignore[no-untyped-def]
    small, large = sorted((d1, d2))
    assert calendar.add(start, small) <= calendar.add(start, large)


@given(CALENDARS, INSTANTS, DURATIONS)
def test_between_undoes_add(calendar, start, duration) -> None:  # type: ignore[no-untyped-def]
    assert calendar.between(start, calendar.add(start, duration)) == duration


@given(CALENDARS, INSTANTS, st.integers(1, 20 * 11 * 3600))
def test_results_lie_in_working_time_or_exactly_at_a_closing(calendar, start, duration) -> None:  # type: ignore[no-untyped-def]
    due = calendar.add(start, duration)
    just_before = due - timedelta(seconds=1)
    assert calendar.is_working(due) or calendar.is_working(just_before)
    assert due > start


@given(
    INSTANTS,
    DURATIONS,
    st.lists(st.tuples(st.integers(0, 40 * 86400), st.integers(1, 5 * 86400)), max_size=4),
)
def test_holds_never_shorten_a_deadline(start, duration, raw_holds) -> None:  # type: ignore[no-untyped-def]
    calendar = POLICY.calendars["office"]
    holds = merge_holds(
        [Hold(start + timedelta(seconds=a), start + timedelta(seconds=a + b)) for a, b in raw_holds]
    )
    plain = calendar.add(start, duration)
    held = add_with_holds(calendar, start, duration, holds)
    assert held is not None and held >= plain


@settings(max_examples=50)
@given(
    INSTANTS,
    st.sampled_from(["Urgent", "High", "Medium", "Low"]),
    st.lists(st.tuples(st.integers(0, 10 * 86400), st.integers(1, 3 * 86400)), max_size=3),
)
def test_recomputing_from_stored_history_is_stable(created, priority, raw_holds) -> None:  # type: ignore[no-untyped-def]
    holds = tuple(
        Hold(created + timedelta(seconds=a), created + timedelta(seconds=a + b))
        for a, b in raw_holds
    )
    history = ticket("2026-01-01 00:00", priority, holds=holds)
    from dataclasses import replace

    history = replace(
        history, created=created, priorities=(replace(history.priorities[0], at=created),)
    )
    first = compute_deadlines(POLICY, history)
    # The same history in another order and re-serialised through ISO strings gives the same answer.
    shuffled = replace(
        history,
        holds=tuple(
            Hold(
                datetime.fromisoformat(h.start.isoformat()),
                datetime.fromisoformat(h.end.isoformat()),
            )
            for h in reversed(history.holds)
        ),
    )
    second = compute_deadlines(POLICY, shuffled)
    assert (first.response_due, first.resolution_target.due, first.resolution_due.due) == (
        second.response_due,
        second.resolution_target.due,
        second.resolution_due.due,
    )
