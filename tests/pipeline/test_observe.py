"""From Zoho observations to the rules engine's ticket history.

Policy: the shipped Ignus policy (On Hold status type pauses; "Awaiting quote approval" and the
quote field value "Pendiente" pause as a quote wait; "Waiting on third party" counts vendor waits).
Ticket: classified High, created Tuesday 24 Nov 2026 10:00 Mexico City. Times below are local.
"""

from __future__ import annotations

from integration.pipeline.observe import (
    Classified,
    Observation,
    build_history,
    first_agent_response,
    observe,
    parse_zoho_time,
)
from integration.rules.deadlines import Hold
from integration.rules.figures import CLOSED_HOLD
from tests.rules.helpers import POLICY, mx, policy_with

CREATED = mx("2026-11-24 10:00")
HIGH = Classified(CREATED, "High", "standard", "")


def obs(at: str, status: str = "Open", status_type: str = "Open", **fields: object) -> Observation:
    return Observation(
        modified_time=mx(at),
        source=str(fields.pop("source", "webhook")),
        status=status,
        status_type=status_type,
        **fields,
    )  # type: ignore[arg-type]


def history(*observations: Observation, classified: Classified = HIGH, policy=POLICY, **kw):  # type: ignore[no-untyped-def]
    return build_history(policy, classified, observations, first_response_at=None, **kw)


def test_zoho_times_parse_as_iso_or_epoch_milliseconds() -> None:
    iso = parse_zoho_time("2026-11-24T16:00:00.000Z")
    assert iso == mx("2026-11-24 10:00")
    assert parse_zoho_time("1795536000000") == iso
    assert parse_zoho_time(1795536000000) == iso
    assert parse_zoho_time("yesterday") is None and parse_zoho_time(None) is None


def test_on_hold_status_type_makes_a_hold_from_onhold_time_to_the_resume() -> None:
    h = history(
        obs("2026-11-24 10:00"),
        obs(
            "2026-11-24 12:05", "Waiting on customer", "On Hold", onhold_time=mx("2026-11-24 12:00")
        ),
        obs("2026-11-25 09:00"),
    )
    assert h.holds == (Hold(mx("2026-11-24 12:00"), mx("2026-11-25 09:00"), "Waiting on customer"),)


def test_a_hold_still_open_has_no_end() -> None:
    h = history(obs("2026-11-24 10:00"), obs("2026-11-24 12:00", "On Hold", "On Hold"))
    assert h.holds == (Hold(mx("2026-11-24 12:00"), None, "On Hold"),)


def test_closed_then_reopened_counts_the_closed_time_as_a_hold() -> None:
    h = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 15:00", "Closed", "Closed"),
        obs("2026-11-26 09:00"),
    )
    assert h.closed_at is None
    assert h.holds == (Hold(mx("2026-11-24 15:00"), mx("2026-11-26 09:00"), "closed"),)
    # the report's figures tell this stop from a hold by its reason
    assert h.holds[0].reason == CLOSED_HOLD


def test_closed_at_the_end_is_the_closing_time() -> None:
    h = history(obs("2026-11-24 10:00"), obs("2026-11-24 15:00", "Closed", "Closed"))
    assert h.closed_at == mx("2026-11-24 15:00") and h.holds == ()


def test_a_quote_awaiting_authorisation_pauses_by_status_or_by_field() -> None:
    by_status = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 11:00", "Awaiting quote approval", "Open"),
        obs("2026-11-24 13:00"),
    )
    by_field = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 11:00", quote_status="Pendiente"),
        obs("2026-11-24 13:00", quote_status="Autorizada"),
    )
    expected = (Hold(mx("2026-11-24 11:00"), mx("2026-11-24 13:00"), "quote pending"),)
    assert by_status.holds == expected and by_field.holds == expected


def test_a_status_named_never_pause_runs_even_when_on_hold() -> None:
    policy = policy_with(readings={"never_pause_statuses": ["On Hold - internal"]})
    h = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 11:00", "On Hold - internal", "On Hold"),
        obs("2026-11-24 13:00"),
        policy=policy,
    )
    assert h.holds == ()


def test_an_agent_priority_change_is_recorded_but_our_own_write_is_not() -> None:
    h = history(
        obs("2026-11-24 10:00", priority="Medium"),  # Zoho's default before we classified
        obs("2026-11-24 10:01", priority="High", source="write"),  # our PATCH
        obs("2026-11-24 11:00", priority="High"),
        obs("2026-11-24 12:00", priority="Low", modified_by="agent-7"),  # an agent
    )
    assert [(c.at, c.priority) for c in h.priorities] == [
        (CREATED, "High"),
        (mx("2026-11-24 12:00"), "Low"),
    ]


def test_a_change_by_the_token_owner_in_zoho_is_an_agent_change() -> None:
    """A Self Client token acts as the person who generated it; when that person sets a priority
    in Zoho's UI, it is their decision (modifiedBy is the token's user, but we did not send it)."""
    h = history(
        obs("2026-11-24 10:00", priority="Medium"),
        obs("2026-11-24 10:01", priority="High", source="write", modified_by="us"),  # our PATCH
        obs("2026-11-24 11:00", priority="Low", modified_by="us"),  # the same person, by hand
    )
    assert [(c.at, c.priority) for c in h.priorities] == [
        (CREATED, "High"),
        (mx("2026-11-24 11:00"), "Low"),
    ]


def test_eta_renegotiations_are_kept_in_order() -> None:
    ops = Classified(CREATED, "Medium", "operations", "")
    h = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 12:00", eta="2026-12-04T18:00:00.000Z"),
        obs("2026-12-01 12:00", eta="2026-12-11T18:00:00.000Z"),
        classified=ops,
    )
    assert [e.eta for e in h.etas] == [
        parse_zoho_time("2026-12-04T18:00:00.000Z"),
        parse_zoho_time("2026-12-11T18:00:00.000Z"),
    ]


def test_vendor_waits_follow_the_waiting_on_third_party_status() -> None:
    zoho = Classified(CREATED, "Medium", "third_party", "Zoho")
    h = history(
        obs("2026-11-24 10:00"),
        obs("2026-11-24 11:00", "Waiting on third party", "On Hold"),
        obs("2026-11-25 11:00"),
        classified=zoho,
    )
    assert [(w.vendor, w.start, w.end) for w in h.vendor_waits] == [
        ("Zoho", mx("2026-11-24 11:00"), mx("2026-11-25 11:00"))
    ]


def test_first_response_is_the_earliest_public_sent_agent_reply() -> None:
    threads = [
        {"direction": "in", "createdTime": "2026-11-24T16:05:00.000Z"},
        {"direction": "out", "visibility": "private", "createdTime": "2026-11-24T16:10:00.000Z"},
        {"direction": "out", "status": "DRAFT", "createdTime": "2026-11-24T16:12:00.000Z"},
        {
            "direction": "out",
            "isDescriptionThread": True,
            "createdTime": "2026-11-24T16:00:00.000Z",
        },
        {
            "direction": "out",
            "author": {"type": "END_USER"},
            "createdTime": "2026-11-24T16:14:00.000Z",
        },
        {
            "direction": "out",
            "author": {"type": "AGENT"},
            "createdTime": "2026-11-24T16:30:00.000Z",
        },
        {
            "direction": "out",
            "author": {"type": "AGENT"},
            "createdTime": "2026-11-24T16:20:00.000Z",
        },
    ]
    assert first_agent_response(threads) == mx("2026-11-24 10:20")


def test_a_ticket_object_becomes_an_observation_with_eta_and_quote_fields() -> None:
    ticket = {
        "modifiedTime": "2026-11-24T18:00:00.000Z",
        "status": "Open",
        "statusType": "Open",
        "priority": "High",
        "cf": {"cf_eta": "2026-12-04T18:00:00.000Z", "cf_quote_status": "Pendiente"},
        "accountId": "42",
    }
    o = observe(ticket, "fetch", POLICY)
    assert o is not None
    assert (o.modified_time, o.eta, o.quote_status, o.account_id) == (
        mx("2026-11-24 12:00"),
        "2026-12-04T18:00:00.000Z",
        "Pendiente",
        "42",
    )
    assert observe({"status": "Open"}, "fetch", POLICY) is None
