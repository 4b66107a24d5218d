"""`python -m integration adopt`: a portal's open tickets brought under the policy, against the
fake Zoho Desk on a port, the real HTTP client, the CLI and the real worker.

Calendar: Friday 27 Nov 2026 18:30 in Mexico City is "now" when a test starts. The portal's
tickets were created on Thursday 26 Nov from 09:00, a minute apart, before the service was
pointed at it: no webhook ever came for them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from integration.cli import main
from integration.models import AuditEntry, Cursor, InboxEvent, TrackedTicket
from integration.pipeline.adopt import CURSOR, CURSOR_FROM, EARLIEST
from integration.pipeline.worker import Scope, Worker
from integration.zoho.client import zoho_time
from integration.zoho.fake import Fault
from tests.pipeline.conftest import Service, mx

SPAM = "Ataque masivo de SPAM"  # classified High (rule high-spam-attack) when it has no priority
START = mx("2026-11-26 09:00")  # Thursday, office hours
CREDITS_SPENT = {"errorCode": "THRESHOLD_EXCEEDED", "message": "daily API credits spent"}


@dataclass
class Portal:
    """What the portal held before the service: open tickets by trait, and closed ones."""

    open: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    created: dict[str, datetime] = field(default_factory=dict)
    priority: dict[str, str | None] = field(default_factory=dict)  # as the agents left it
    replied: dict[str, datetime] = field(default_factory=dict)  # first agent reply
    on_hold: dict[str, datetime] = field(default_factory=dict)  # onholdTime


def fill_portal(service: Service, count: int, *, closed_every: int = 11) -> Portal:
    """`count` open tickets (every `closed_every`-th ticket made is closed, besides): a third
    with Low (an agent's choice: the subject alone would say High), a third with none, a third
    Medium; every 5th with an agent's reply 20 min after creation; every 7th waiting on the
    customer since 30 min after creation."""
    portal = Portal()
    index = 0
    while len(portal.open) < count:
        created = START + timedelta(minutes=index)
        fields: dict[str, Any] = {
            "subject": SPAM,
            "createdTime": zoho_time(created),
            "modifiedTime": zoho_time(created + timedelta(minutes=40)),
        }
        if index % closed_every == closed_every - 1:
            fields.update(status="Closed", statusType="Closed", priority="High",
                          closedTime=zoho_time(created + timedelta(minutes=40)))  # fmt: skip
            portal.closed.append(service.desk.create_ticket(**fields)["id"])
            index += 1
            continue
        n = len(portal.open)
        priority = ("Low", None, "Medium")[n % 3]
        fields["priority"] = priority
        if n % 7 == 0:
            held = created + timedelta(minutes=30)
            fields.update(status="Waiting on customer", statusType="On Hold",
                          onholdTime=zoho_time(held))  # fmt: skip
        ticket_id = service.desk.create_ticket(**fields)["id"]
        if n % 7 == 0:
            portal.on_hold[ticket_id] = held
        if n % 5 == 0:
            reply = created + timedelta(minutes=20)
            service.desk.add_thread(ticket_id, createdTime=zoho_time(reply))
            portal.replied[ticket_id] = reply
        portal.open.append(ticket_id)
        portal.created[ticket_id] = created
        portal.priority[ticket_id] = priority
        index += 1
    return portal


@pytest.fixture
def cli_env(service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Service:
    """CLI commands run on the service's database, with credentials for the fake portal."""
    monkeypatch.chdir(tmp_path)
    desk = service.desk
    for name, value in {
        "DATABASE_URL": service.container.settings.database_url,
        "ZOHO_DESK_BASE_URL": service.zoho.url,
        "ZOHO_ACCOUNTS_URL": service.zoho.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "ZOHO_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return service


def adopt(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["adopt", *args], clock=service.clock)
    out, err = capsys.readouterr()
    return code, out, err


def adopt_json(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = adopt(service, capsys, "--json", *args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def adopt_events(service: Service) -> list[InboxEvent]:
    with service.container.sessions() as session:
        return list(
            session.scalars(
                select(InboxEvent).where(InboxEvent.source == "adopt").order_by(InboxEvent.id)
            )
        )


def all_events(service: Service) -> list[InboxEvent]:
    with service.container.sessions() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def cursors(service: Service) -> tuple[datetime | None, datetime | None]:
    with service.container.sessions() as session:
        walk_from, position = session.get(Cursor, CURSOR_FROM), session.get(Cursor, CURSOR)
        return (walk_from.at if walk_from else None, position.at if position else None)


def adopted_audits(service: Service) -> dict[str, list[AuditEntry]]:
    found: dict[str, list[AuditEntry]] = {}
    with service.container.sessions() as session:
        for row in session.scalars(select(AuditEntry).where(AuditEntry.decision == "adopted")):
            found.setdefault(row.ticket_id, []).append(row)
    return found


def tracked(service: Service) -> dict[str, TrackedTicket]:
    with service.container.sessions() as session:
        rows = session.scalars(select(TrackedTicket)).all()
        session.expunge_all()
    return {row.ticket_id: row for row in rows}


# ---- the portal of 250 open tickets, interrupted halfway -----------------------------------


@pytest.mark.heavy
def test_250_open_tickets_interrupted_halfway_and_resumed_are_each_adopted_once(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    portal = fill_portal(service, 250)
    assert (len(portal.open), len(portal.closed)) == (250, 24)

    # Zoho's daily credits run out on the second page of the walk.
    service.desk.inject(
        Fault(status=429, body=CREDITS_SPENT, path_prefix="/api/v1/tickets/search", skip=1)
    )
    code, out, err = adopt(service, capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("stopped: waiting for Zoho: ")
    assert "THRESHOLD_EXCEEDED" in err and "run adopt again to resume from " in err
    assert "pages read: 2, tickets found: 100, enqueued: 91," in out  # 9 of the first 100 closed
    assert "skipped (closed): 9" in out
    assert len(adopt_events(service)) == 91
    # The walk from the first ticket stands at the 100th ticket's creation.
    assert cursors(service) == (EARLIEST, START + timedelta(minutes=99))

    # Zoho's calls are paused until the credits reset; an hour later, the same command resumes.
    service.clock.advance(hours=2)
    code, out, err = adopt(service, capsys)
    assert code == 0, err
    assert "resuming the walk" in out
    assert "enqueued: 159, already tracked: 0, already adopted: 1, skipped (closed): 15" in out
    assert "walk complete" in out

    events = adopt_events(service)
    assert len(events) == 250
    assert Counter(e.ticket_id for e in events) == Counter(portal.open)  # each once, none closed
    assert {e.dedupe_key for e in events} == {f"adopt:{t}" for t in portal.open}

    # A third run finds nothing new to adopt (the walk is complete: tickets created since only).
    again = adopt_json(service, capsys)
    assert (again["resumed"], again["enqueued"], again["found"]) == (True, 0, 0)

    service.work()

    state = tracked(service)
    assert set(state) == set(portal.open)  # closed ones never tracked
    audits = adopted_audits(service)
    assert {t: len(rows) for t, rows in audits.items()} == {t: 1 for t in portal.open}
    for ticket_id in portal.open:
        row = state[ticket_id]
        zoho = service.desk.get_ticket(ticket_id)
        note = audits[ticket_id][0].reason
        assert row.created_at == portal.created[ticket_id]  # deadlines from createdTime
        assert "Not known: holds before adoption, priority changes before adoption" in note
        kept = portal.priority[ticket_id]
        if kept is not None:  # agents chose it: kept, not reclassified
            assert (row.priority, zoho["priority"]) == (kept, kept)
            assert f"priority {kept} as it stands (not reclassified)" in note
        else:
            assert (row.priority, zoho["priority"]) == ("High", "High")
            assert "priority High classified (the ticket had none)" in note
        assert row.first_response_at == portal.replied.get(ticket_id)
        if ticket_id in portal.replied:
            assert f"first response {zoho_time(portal.replied[ticket_id])} from the threads" in note
        else:
            assert "no agent reply in the threads yet" in note
        if ticket_id in portal.on_hold:
            assert zoho["cf"]["cf_sla_status"] == "Paused"
            held = zoho_time(portal.on_hold[ticket_id])
            assert f"on hold (Waiting on customer) since {held} (its onholdTime)" in note
        else:
            assert zoho["cf"]["cf_sla_status"] in {"On track", "At risk", "Breached", "Met"}
            assert "not on hold now" in note
            due = {"High": timedelta(hours=1), "Low": timedelta(days=1)}.get(row.priority)
            if due is not None and ticket_id not in portal.replied:  # Thu office hours: same
                assert zoho["cf"]["cf_sla_response_due"] == zoho_time(row.created_at + due)

    for ticket_id in portal.closed:  # untouched
        assert service.desk.writes(path_prefix=f"/api/v1/tickets/{ticket_id}") == []
        assert service.desk.get_ticket(ticket_id)["cf"]["cf_sla_status"] is None


# ---- slices, what is skipped, dry-run ---------------------------------------------------------


def test_a_limit_adopts_in_slices_and_the_next_run_goes_on(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    portal = fill_portal(service, 9, closed_every=5)  # 11 tickets, 2 closed
    first = adopt_json(service, capsys, "--limit", "4")
    assert (first["found"], first["enqueued"], first["closed"]) == (4, 4, 0)
    assert first["limited"] and not first["complete"]
    assert first["cursor"] == zoho_time(START + timedelta(minutes=3)).replace(".000", "")

    second = adopt_json(service, capsys, "--limit", "4")
    assert second["resumed"] and second["already_adopted"] == 1  # the ticket at the cursor
    third = adopt_json(service, capsys)
    assert third["complete"]
    events = adopt_events(service)
    assert Counter(e.ticket_id for e in events) == Counter(portal.open)
    assert first["enqueued"] + second["enqueued"] + third["enqueued"] == 9
    assert second["closed"] + third["closed"] == 2


def test_a_ticket_the_service_already_tracks_is_not_adopted_again(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    heard = service.add(subject=SPAM)  # its Ticket_Add came: tracked
    service.work()
    portal = fill_portal(service, 2)
    result = adopt_json(service, capsys)
    assert (result["found"], result["already_tracked"], result["enqueued"]) == (3, 1, 2)
    assert heard["id"] not in {e.ticket_id for e in adopt_events(service)}
    service.work()
    assert heard["id"] not in adopted_audits(service)
    assert set(adopted_audits(service)) == set(portal.open)


def test_a_ticket_tracked_after_it_was_enqueued_is_applied_but_not_adopted(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    [ticket_id] = fill_portal(service, 1).open
    assert adopt_json(service, capsys)["enqueued"] == 1
    # Its first change reaches the service, and is applied, before the adopt event is.
    service.agent_update(ticket_id, status="Escalated")
    [webhook] = [e for e in all_events(service) if e.source == "webhook"]
    Worker(service.container, scope=Scope(frozenset({webhook.id}), frozenset())).run_until_idle()
    assert set(tracked(service)) == {ticket_id}
    service.work()
    assert adopted_audits(service) == {}  # the webhook started the tracking: nothing assumed
    assert tracked(service)[ticket_id].priority == "Low"  # old, with a priority: kept anyway
    assert {e.status for e in adopt_events(service)} == {"done"}


def test_dry_run_prints_what_would_be_adopted_and_stores_nothing(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    fill_portal(service, 6, closed_every=4)  # 7 tickets: 1 closed; priorities Low, none, Medium
    code, out, err = adopt(service, capsys, "--dry-run")
    assert code == 0, err
    assert out.startswith("dry-run: tickets created from the first ticket to vie 27 nov 2026")
    assert "would enqueue: 6, already tracked: 0, already adopted: 0, skipped (closed): 1" in out
    assert "would enqueue by priority: Low 2, Medium 2, none (to classify) 2" in out
    assert "would enqueue by status: Open 5, Waiting on customer 1" in out
    assert "dry-run: nothing stored, cursor not moved" in out
    for repr_ in ("None", "True", "False", "datetime."):
        assert repr_ not in out
    assert adopt_events(service) == [] and cursors(service) == (None, None)


def test_since_starts_a_walk_at_that_date_and_a_later_run_resumes_it(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    portal = fill_portal(service, 20, closed_every=100)
    since = "2026-11-26T09:10"  # Mexico City time: the 11th ticket on
    first = adopt_json(service, capsys, "--since", since, "--limit", "5")
    assert (first["resumed"], first["walk_from"]) == (False, "2026-11-26T15:10:00Z")
    assert {e.ticket_id for e in adopt_events(service)} == set(portal.open[10:15])
    # The same --since again continues that walk (it is inside what the walk covers).
    second = adopt_json(service, capsys, "--since", since)
    assert second["resumed"] and second["complete"]
    assert {e.ticket_id for e in adopt_events(service)} == set(portal.open[10:])
    # An earlier date starts a new walk there; what the first one adopted is not enqueued again.
    third = adopt_json(service, capsys, "--since", "2026-11-26")
    assert not third["resumed"] and (third["enqueued"], third["already_adopted"]) == (10, 10)
    assert Counter(e.ticket_id for e in adopt_events(service)) == Counter(portal.open)


def test_adopt_stops_when_zoho_reports_credits_below_the_reserve(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    fill_portal(service, 150, closed_every=1000)
    service.desk.credits_remaining = 1200  # each call to the API spends one
    code, out, err = adopt(service, capsys, "--keep-credits", "1200")
    assert code == 1
    assert "pages read: 1, tickets found: 100, enqueued: 100," in out
    assert err.startswith("stopped: Zoho reports 1199 API credits left today, fewer than the 1200")
    # Without the reserve the rest is read.
    code, out, err = adopt(service, capsys, "--keep-credits", "0")
    assert code == 0 and "enqueued: 50, already tracked: 0, already adopted: 1," in out


def test_adopt_without_zoho_credentials_says_what_to_set(
    cli_env: Service, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_REFRESH_TOKEN")
    code, out, err = adopt(cli_env, capsys)
    assert code == 2 and out == ""
    assert err == (
        "error: adopt reads the portal's tickets and needs Zoho credentials (write-back is "
        "dry-run): set ZOHO_REFRESH_TOKEN (see config.example.env)\n"
    )


def test_adopt_refuses_a_since_in_the_future(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = adopt(cli_env, capsys, "--since", "2026-12-25")
    assert code == 2 and err == 'error: --since: "2026-12-25" is in the future\n'
    with cli_env.container.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0


def test_a_revoked_grant_stops_adopt_with_the_cursor_where_it_was(
    cli_env: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service = cli_env
    portal = fill_portal(service, 5)
    assert adopt_json(service, capsys, "--limit", "2")["enqueued"] == 2
    before = cursors(service)
    service.desk.refresh_revoked = True  # someone revoked the integration's grant
    service.desk.expire_tokens()
    code, _, err = adopt(service, capsys)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("stopped: waiting for Zoho: Zoho re-authorisation required: ")
    assert cursors(service) == before and len(adopt_events(service)) == 2
    # Authorised again (a new refresh token in the settings), the walk goes on.
    service.desk.refresh_revoked = False
    service.desk.refresh_token = "fake-refresh-2"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOHO_REFRESH_TOKEN", "fake-refresh-2")
        result = adopt_json(service, capsys)
    assert result["resumed"] and result["complete"]
    assert Counter(e.ticket_id for e in adopt_events(service)) == Counter(portal.open)
