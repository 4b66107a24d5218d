"""Reconciliation polling (`clock/poll.py`) on a controlled clock: the fake Zoho Desk on a port,
the real HTTP client, the web app and the real worker.

Calendar: Friday 27 Nov 2026 18:30 in Mexico City (00:30 UTC on the 28th) is "now" when a test
starts. Settings as shipped unless a test says otherwise: CLASSIFY_WINDOW_S 3600,
CLOCK_POLL_OVERLAP_S 600.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import integration.clock.poll as poll_module
from integration.cli.zoho import run_checks
from integration.clock.poll import CURSOR, poll_once
from integration.models import Cursor, InboxEvent, TrackedTicket
from integration.pipeline.worker import Worker
from integration.zoho.client import zoho_time
from integration.zoho.fake import Fault
from tests.pipeline.conftest import Clock, Service, running_service

SPAM = "Ataque masivo de SPAM"  # a seed example: High, rule high-spam-attack
BILLABLE = "Cotización de desarrollo de nuevo módulo"  # billable: paused while a quote is pending
CREDITS_SPENT = {"errorCode": "THRESHOLD_EXCEEDED", "message": "daily API credits spent"}


def poll_events(service: Service) -> list[InboxEvent]:
    with service.container.sessions() as session:
        return list(
            session.scalars(
                select(InboxEvent).where(InboxEvent.source == "poll").order_by(InboxEvent.id)
            )
        )


def saved_cursor(service: Service) -> Cursor | None:
    with service.container.sessions() as session:
        return session.get(Cursor, CURSOR)


def searches(service: Service) -> list[dict[str, str]]:
    return [r.query for r in service.desk.requests if r.path == "/api/v1/tickets/search"]


def lower_search_cap(service: Service, cap: int) -> None:
    """Zoho's `from` cap made small: the fake refuses past it, the client must not ask."""
    service.desk.search_max_offset = cap
    service.container.desk.search_max_offset = cap  # type: ignore[union-attr]


def make_tickets(service: Service, count: int, *, every_s: float = 1.0) -> list[str]:
    """Tickets created in Zoho (no webhook delivered), `every_s` apart."""
    ids = []
    for index in range(count):
        ids.append(service.desk.create_ticket(subject=f"Consulta {index}")["id"])
        service.clock.advance(seconds=every_s)
    return ids


@pytest.fixture
def no_overlap(database_url: str, clock: Clock) -> Iterator[Service]:
    """CLOCK_POLL_OVERLAP_S=0: a poll reads from its cursor exactly, so the tests see where the
    cursor is rather than what the overlap re-reads."""
    with running_service(database_url, clock, {"CLOCK_POLL_OVERLAP_S": "0"}) as running:
        yield running


# ---- what the poll catches --------------------------------------------------------------------


def test_a_dropped_ticket_add_is_applied_by_the_next_poll(service: Service) -> None:
    ticket = service.desk.create_ticket(subject=SPAM)  # Zoho's Ticket_Add never arrives
    service.clock.advance(minutes=5)

    result = poll_once(service.container)
    assert (result.read, result.stored, result.stopped) == (1, 1, "")
    [event] = poll_events(service)
    assert (event.event_type, event.ticket_id) == ("Ticket_Add", ticket["id"])

    service.work()
    after = service.desk.get_ticket(ticket["id"])
    assert after["priority"] == "High"  # classified: a new ticket, inside CLASSIFY_WINDOW_S
    assert after["cf"]["cf_sla_rule"] == "high-spam-attack"
    assert after["cf"]["cf_sla_status"] == "On track"
    assert after["cf"]["cf_sla_response_due"] == "2026-11-30T14:30:00.000Z"  # Mon 08:30
    [comment] = service.desk.comments[ticket["id"]]
    assert comment["isPublic"] is False and "Prioridad asignada: Alta" in comment["content"]


def test_a_change_only_to_the_quote_status_pauses_a_billable_ticket_at_the_next_poll(
    service: Service,
) -> None:
    ticket = service.add(subject=BILLABLE)  # the webhook's Ticket_Add
    service.work()
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "On track"

    service.clock.advance(minutes=10)
    service.desk.agent_edit(ticket["id"], {"cf": {"cf_quote_status": "Pendiente"}})  # no webhook
    service.clock.advance(minutes=5)
    result = poll_once(service.container)
    assert result.stored == 1 and result.stopped == ""
    service.work()

    after = service.desk.get_ticket(ticket["id"])
    assert after["cf"]["cf_sla_status"] == "Paused"
    assert after["cf"]["cf_sla_resolution_due"] is None


def test_a_ticket_first_seen_long_after_its_creation_keeps_its_priority(service: Service) -> None:
    created = service.clock.now - timedelta(hours=3)
    ticket = service.desk.create_ticket(
        subject=SPAM, priority="Low", createdTime=zoho_time(created)
    )  # before the service: a person chose Low; it is changed now, by someone, unheard
    service.clock.advance(minutes=5)

    poll_once(service.container)
    [event] = poll_events(service)
    assert event.event_type == "Ticket_Update"  # not new: the ledger's rule keeps the priority
    service.work()
    after = service.desk.get_ticket(ticket["id"])
    assert after["priority"] == "Low"
    assert after["cf"]["cf_sla_status"]  # tracked from now on


def test_the_same_state_polled_again_stores_nothing(service: Service) -> None:
    container = service.container
    ticket = service.desk.create_ticket(subject=SPAM)
    heard = service.add(subject=BILLABLE)  # this one's webhook came: the poll adds nothing
    service.clock.advance(minutes=1)
    container.work_available.clear()

    first = poll_once(container)
    assert (first.read, first.stored) == (2, 1) and container.work_available.is_set()
    container.work_available.clear()
    service.clock.advance(minutes=1)
    again = poll_once(container)
    assert (again.read, again.stored) == (2, 0) and not container.work_available.is_set()

    # Applied but not yet written: tracked, so the same state is now a Ticket_Update, whose
    # payload was stored as the Ticket_Add: nothing new.
    Worker(container).process_events()
    tracked = poll_once(container)
    assert (tracked.read, tracked.stored) == (2, 0)

    service.work()  # our PATCH and comment: a new modifiedTime on each ticket
    ours = poll_once(container)
    assert ours.stored == 2  # our own write, seen once
    service.work()
    assert poll_once(container).stored == 0
    for ticket_id in (ticket["id"], heard["id"]):
        assert len(service.desk.writes("PATCH", f"/api/v1/tickets/{ticket_id}")) == 1
        assert len(service.desk.comments[ticket_id]) == 1


# ---- paging -----------------------------------------------------------------------------------


def test_250_tickets_changed_in_one_window_are_all_read_in_three_requests(
    service: Service,
) -> None:
    made = make_tickets(service, 250)

    result = poll_once(service.container)
    assert (result.read, result.stored, result.stopped) == (250, 250, "")
    assert {e.ticket_id for e in poll_events(service)} == set(made)
    assert result.requests == 3  # keyset paging: 100 + 99 new + 51 new
    assert [(q["limit"], q["from"]) for q in searches(service)] == [("100", "0")] * 3
    assert all(q["sortBy"] == "modifiedTime" for q in searches(service))
    assert result.cursor == service.clock.now


def test_a_bulk_change_at_one_instant_past_a_small_offset_cap_loses_no_ticket(
    service: Service,
) -> None:
    lower_search_cap(service, 150)  # `from` 0 and 100 only: 200 of one instant reachable
    made = make_tickets(service, 250)
    service.clock.advance(minutes=1)
    for ticket_id in made:  # one bulk update: 250 tickets share one modifiedTime
        service.desk.agent_edit(ticket_id, {"cf": {"cf_quote_status": "Enviada"}})
    service.clock.advance(minutes=1)

    result = poll_once(service.container)
    assert (result.read, result.stored, result.stopped) == (250, 250, "")
    assert {e.ticket_id for e in poll_events(service)} == set(made)
    queries = searches(service)
    assert max(int(q["from"]) for q in queries) <= 150  # the fake would have refused more
    assert any("createdTimeRange" in q for q in queries)  # the crowded instant, by creation
    assert result.unreachable == [] and result.requests == len(queries) == 7


def test_more_tickets_than_the_cap_sharing_both_instants_are_reported_and_passed(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    lower_search_cap(service, 150)
    for index in range(250):  # one import: the same creation and modification instant
        service.desk.create_ticket(subject=f"Importado {index}")
    service.clock.advance(seconds=1)
    later = service.desk.create_ticket(subject=SPAM)
    service.clock.advance(minutes=1)

    with caplog.at_level(logging.ERROR):
        result = poll_once(service.container)
    assert result.read == 201 and result.stopped == ""  # 200 of the 250, and the later one
    assert later["id"] in {e.ticket_id for e in poll_events(service)}
    [slice_] = result.unreachable
    assert "2026-11-28T00:30:00" in slice_
    assert "cannot page past it" in caplog.text
    assert result.cursor == service.clock.now  # not stuck: the next change brings them back


# ---- the cursor -------------------------------------------------------------------------------


def test_the_cursor_starts_a_classify_window_back_and_each_poll_reads_from_it_less_the_overlap(
    service: Service,
) -> None:
    t0 = service.clock.now
    service.clock.set(t0 - timedelta(hours=2))
    service.desk.create_ticket(subject="Consulta de hace dos horas")
    service.clock.set(t0 - timedelta(minutes=50))
    recent = service.desk.create_ticket(subject=SPAM)
    service.clock.set(t0)
    assert saved_cursor(service) is None

    first = poll_once(service.container)
    assert first.since == t0 - timedelta(seconds=3600 + 600)  # CLASSIFY_WINDOW_S, less overlap
    assert (first.until, first.cursor) == (t0, t0)
    assert [e.ticket_id for e in poll_events(service)] == [recent["id"]]
    assert poll_events(service)[0].event_type == "Ticket_Add"  # new: classified
    saved = saved_cursor(service)
    assert saved is not None and (saved.at, saved.updated_at) == (t0, t0)

    service.clock.advance(minutes=5)
    second = poll_once(service.container)
    assert (second.since, second.until) == (t0 - timedelta(seconds=600), t0 + timedelta(minutes=5))
    assert second.cursor == t0 + timedelta(minutes=5)


def test_a_database_failure_mid_poll_skips_no_ticket(
    no_overlap: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = no_overlap
    made = make_tickets(service, 250)
    stored_by = poll_module.store
    calls = 0

    def store_then_fail(*args: Any, **kwargs: Any) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))
        return stored_by(*args, **kwargs)

    monkeypatch.setattr(poll_module, "store", store_then_fail)
    failed = poll_once(service.container)
    assert failed.stopped == "database unavailable (OperationalError)"
    assert failed.stored == 100
    hundredth = service.desk.get_ticket(made[99])["modifiedTime"]
    assert failed.cursor is not None and zoho_time(failed.cursor) == hundredth
    assert zoho_time(saved_cursor(service).at) == hundredth  # type: ignore[union-attr]

    monkeypatch.setattr(poll_module, "store", stored_by)
    resumed = poll_once(service.container)
    assert resumed.read == 151  # from the cursor (the 100th, read again), not from the start
    assert (resumed.stored, resumed.stopped) == (150, "")
    assert sorted(e.ticket_id for e in poll_events(service)) == sorted(made)


# ---- when Zoho cannot be asked ----------------------------------------------------------------


def test_while_calls_are_paused_the_poll_asks_nothing_and_resumes_from_its_cursor(
    service: Service,
) -> None:
    t0 = service.clock.now
    tokens = service.container.desk.tokens  # type: ignore[union-attr]
    tokens.store.pause_calls(t0 + timedelta(hours=1), t0)  # daily credits spent at t0
    service.clock.advance(minutes=5)

    first = poll_once(service.container)
    assert first.stopped.startswith("waiting for Zoho: Zoho calls paused until")
    assert (first.read, first.stored, searches(service)) == (0, 0, [])
    start = t0 + timedelta(minutes=5) - timedelta(hours=1)  # saved even though Zoho said no
    assert saved_cursor(service).at == start  # type: ignore[union-attr]

    service.clock.set(t0 + timedelta(minutes=30))
    ticket = service.desk.create_ticket(subject=SPAM)
    service.clock.set(t0 + timedelta(hours=3))  # the pause is over; the ticket is 2.5 h old
    resumed = poll_once(service.container)
    assert resumed.since == start - timedelta(seconds=600)
    assert (resumed.read, resumed.stored, resumed.stopped) == (1, 1, "")
    assert poll_events(service)[0].ticket_id == ticket["id"]


def test_credits_spent_mid_poll_keep_what_was_stored_and_resume_later(service: Service) -> None:
    container = service.container
    made = make_tickets(service, 250)
    first_page = container.desk._search_page  # type: ignore[union-attr]

    def then_credits_run_out(**kwargs: Any) -> list[dict[str, Any]]:
        page = first_page(**kwargs)
        service.desk.inject(
            Fault(status=429, body=CREDITS_SPENT, path_prefix="/api/v1/tickets/search")
        )
        return page

    container.desk._search_page = then_credits_run_out  # type: ignore[union-attr]
    stopped = poll_once(container)
    container.desk._search_page = first_page  # type: ignore[union-attr]
    assert stopped.stopped.startswith("waiting for Zoho: Zoho Desk 429 THRESHOLD_EXCEEDED")
    assert stopped.stored == 100
    assert zoho_time(stopped.cursor) == service.desk.get_ticket(made[99])["modifiedTime"]  # type: ignore[arg-type]
    paused_until = container.desk.tokens.state().calls_paused_until  # type: ignore[union-attr]
    assert paused_until == service.clock.now + timedelta(hours=1)  # ZOHO_CREDITS_PAUSE_S

    asked = len(searches(service))
    still = poll_once(container)
    assert still.stopped.startswith("waiting for Zoho: Zoho calls paused")
    assert (still.stored, still.cursor, len(searches(service))) == (0, stopped.cursor, asked)

    service.clock.set(paused_until + timedelta(minutes=1))
    resumed = poll_once(container)
    assert (resumed.stored, resumed.stopped) == (150, "")
    assert sorted(e.ticket_id for e in poll_events(service)) == sorted(made)


def test_a_refused_refresh_token_stops_the_poll_with_the_cursor_unchanged(
    service: Service,
) -> None:
    poll_once(service.container)
    cursor = saved_cursor(service).at  # type: ignore[union-attr]
    service.desk.create_ticket(subject=SPAM)
    service.clock.advance(minutes=5)
    service.desk.refresh_revoked = True  # someone revoked the integration's grant
    service.desk.expire_tokens()

    result = poll_once(service.container)
    assert result.stopped.startswith("waiting for Zoho: Zoho re-authorisation required")
    assert (result.read, result.stored) == (0, 0)
    assert saved_cursor(service).at == cursor  # type: ignore[union-attr]


def test_dry_run_polls_nothing_and_says_so(app, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    container = app.extensions["integration"]
    assert container.desk is None
    with caplog.at_level(logging.INFO):
        result = poll_once(container)
    assert result.stopped == "dry-run: no Zoho client to ask"
    assert (result.read, result.stored, result.cursor) == (0, 0, None)
    assert "dry-run" in caplog.text
    with container.sessions() as session:
        assert session.get(Cursor, CURSOR) is None
        assert session.scalars(select(TrackedTicket)).first() is None


# ---- zoho check -------------------------------------------------------------------------------


def test_zoho_check_says_what_a_portal_without_webhooks_relies_on(service: Service) -> None:
    container = service.container

    def checks(settings: Any) -> dict[str, Any]:
        found = run_checks(settings, container.desk, container.policy, container.clock())
        return {c.name: c for c in found}

    polling = checks(container.settings)
    assert polling["webhook"].state == "warn"
    assert "only from reconciliation polling, every 300 s" in polling["webhook"].detail
    assert polling["reconciliation poll"].state == "ok"
    assert "every 300 s" in polling["reconciliation poll"].detail

    off = checks(dataclasses.replace(container.settings, clock_poll_interval_s=0))
    assert off["webhook"].state == "failed"
    assert "hears of no ticket" in off["webhook"].detail
    assert off["reconciliation poll"].state == "warn"
