"""Write-back that is right on a real portal: who "we" are, the difference taken at send time,
leases under a slow Zoho, the unsigned body, the comment once, bounded waits.

Policy: the shipped Ignus policy. "Ataque masivo de SPAM" is High: first response 1 h, resolution
target 1 office day, due 3 office days (Mon–Fri 08:00–19:00 America/Mexico_City). Every ticket is
created Friday 27 Nov 2026 18:30 local; the first response is due Monday 30 Nov 08:30.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from integration.models import OutboxWrite, TicketObservation
from integration.pipeline.worker import Worker
from integration.zoho import CallsPaused
from integration.zoho.fake import Fault
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Service, claim_write, mx, running_service

SPAM = "Ataque masivo de SPAM"
CREATED = "2026-11-28T00:30:00.000Z"


def patches(service: Service, ticket_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [r.body for r in service.desk.writes("PATCH", f"/api/v1/tickets/{ticket_id}")]


def test_the_token_owner_setting_a_priority_in_zoho_is_not_reverted(service: Service) -> None:
    """A Self Client token acts as the admin who generated it; that admin also works tickets.
    Their change in Zoho's UI (modifiedBy = the token's user) is an agent's decision."""
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "High"

    service.clock.set(mx("2026-11-27 18:45"))
    token_user = service.desk.agent["id"]
    before = service.desk.get_ticket(ticket["id"])
    service.desk.agent_edit(ticket["id"], {"priority": "Low"}, agent_id=token_user)
    after = service.desk.get_ticket(ticket["id"])
    assert after["modifiedBy"] == token_user
    service.deliver(event("Ticket_Update", after, service.desk.org_id, prev_state=before))
    service.work()

    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"
    assert all("priority" not in p for p in patches(service, ticket["id"])[1:])


def test_a_stale_in_flight_write_is_followed_by_the_latest_decision(service: Service) -> None:
    """On Hold: the "Paused" write is in flight; the agent resumes before it is sent. The write
    is decided again from Zoho's state when it is sent, so Paused never lands: Zoho ends showing
    the latest decision (On track, with its due date)."""
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    sender, applier = Worker(service.container, "sender"), Worker(service.container, "applier")

    service.clock.set(mx("2026-11-27 18:40"))
    service.agent_reply(ticket["id"])  # answered in time
    service.work()
    service.clock.set(mx("2026-11-30 09:00"))
    service.agent_update(ticket["id"], status="Waiting on customer")
    applier.process_events()
    in_flight = claim_write(service, sender)  # the Paused write, taken by the sender

    service.clock.set(mx("2026-11-30 10:00"))
    service.agent_update(ticket["id"], status="Open")
    applier.process_events()  # Zoho still shows On track: the snapshot predates the Paused PATCH
    sender.send(in_flight)  # the Paused write lands
    sender.run_until_idle()

    shown = service.desk.get_ticket(ticket["id"])
    assert shown["status"] == "Open"
    assert shown["cf"]["cf_sla_status"] == "On track"
    assert shown["cf"]["cf_sla_resolution_due"] is not None
    statuses = [p.get("cf", {}).get("cf_sla_status") for p in patches(service, ticket["id"])]
    assert "Paused" not in statuses


def test_a_worker_whose_lease_expired_sends_nothing(service: Service) -> None:
    """The first worker's Zoho call outlasts its lease; the second takes the write and sends it.
    The first, when it gets to its next call, finds the write is no longer its own."""
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    first, second = Worker(service.container, "first"), Worker(service.container, "second")
    first.process_events()
    row = claim_write(service, first)
    service.clock.advance(seconds=first.writer.lease.total_seconds() + 1)
    assert second.process_outbox() == 1
    first.send(row)
    first.run_until_idle()

    assert len(patches(service, ticket["id"])) == 1
    assert len(service.desk.comments[ticket["id"]]) == 1


def test_the_write_lease_outlasts_the_longest_zoho_call(service: Service) -> None:
    s = service.container.settings
    longest = (s.zoho_timeout_connect_s + s.zoho_timeout_read_s) * (s.zoho_max_retries + 1)
    assert Worker(service.container).writer.lease.total_seconds() > longest


def test_a_forged_body_does_not_enter_the_history(service: Service) -> None:
    """A correctly signed delivery whose body says On Hold while Zoho says Open: the body is not
    signed, so Zoho's fetched state decides and nothing is paused."""
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    service.clock.set(mx("2026-11-27 18:45"))
    forged = {
        **service.desk.get_ticket(ticket["id"]),
        "status": "On Hold",
        "statusType": "On Hold",
        "onholdTime": "2026-11-28T00:40:00.000Z",
        "modifiedTime": "2026-11-28T00:45:00.000Z",
    }
    service.deliver(event("Ticket_Update", forged, service.desk.org_id))
    service.work()

    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "On track"
    with service.container.sessions() as session:
        sources = set(session.scalars(select(TicketObservation.source)))
    assert sources <= {"fetch", "write"}


def test_a_ticket_closed_in_time_stays_met_when_later_events_come(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    service.clock.set(mx("2026-11-27 18:40"))
    service.agent_update(ticket["id"], status="Closed")
    service.work()
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "Met"

    service.clock.set(mx("2026-12-02 12:00"))  # long after the first response was due
    service.agent_update(ticket["id"], category="Correo")
    service.work()
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "Met"


def test_the_comment_is_posted_once_when_its_answer_is_lost_and_an_update_comes_between(
    service: Service,
) -> None:
    """The comment POST reaches Zoho but Zoho answers 500; before the retry, a Ticket_Update of
    the same ticket is applied (a new decision). The retry finds the comment by its marker."""
    service.desk.inject(
        Fault(status=500, times=1, method="POST", path_prefix="/api/v1/tickets/", applied=True)
    )
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    assert len(service.desk.comments[ticket["id"]]) == 1

    service.clock.set(mx("2026-11-30 09:00"))
    service.agent_update(ticket["id"], status="Escalated")
    service.clock.advance(seconds=5)
    service.work()
    service.clock.advance(minutes=5)
    service.work()

    [comment] = [c for c in service.desk.comments[ticket["id"]] if "Prioridad" in c["content"]]
    assert f"ref:sla-{ticket['id']}" in comment["content"]
    with service.container.sessions() as session:
        from integration.models import TrackedTicket

        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None and tracked.comment_posted
        assert tracked.comment_id == comment["id"]
        assert tracked.comment_attempts == 1  # one POST; the retry looked and found it
    assert len(service.desk.writes("GET", f"/api/v1/tickets/{ticket['id']}/comments")) == 1


def test_a_ticket_first_seen_on_hold_gets_its_comment_when_the_clocks_run(
    service: Service,
) -> None:
    ticket = service.add(subject=SPAM, createdTime=CREATED, status="On Hold", statusType="On Hold",
                         onholdTime=CREATED)  # fmt: skip
    service.work()
    assert service.desk.comments[ticket["id"]] == []
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "Paused"

    service.clock.set(mx("2026-11-30 09:00"))
    service.agent_update(ticket["id"], status="Open")
    service.work()
    [comment] = service.desk.comments[ticket["id"]]
    assert "sin fecha" not in comment["content"]
    assert "Primera respuesta antes de: lun 30 nov 2026 10:00" in comment["content"]


def test_waits_for_zoho_are_bounded_and_visible(database_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    with running_service(database_url, clock, {"WORKER_MAX_WAITS": "3"}) as service:
        ticket = service.add(subject=SPAM, createdTime=CREATED)
        worker = Worker(service.container)
        worker.process_events()
        original = service.container.desk.update_ticket  # type: ignore[union-attr]

        def paused(*_args, **_kwargs):  # type: ignore[no-untyped-def]
            raise CallsPaused(service.clock() + timedelta(minutes=1))

        service.container.desk.update_ticket = paused  # type: ignore[union-attr, method-assign]
        for _ in range(2):
            worker.process_outbox()
            with service.container.sessions() as session:
                row = session.get(OutboxWrite, ticket["id"])
                assert row is not None and row.status == "pending" and row.attempts == 0
                assert row.last_error.startswith("waiting for Zoho: ")
            service.clock.advance(minutes=2)
        worker.process_outbox()
        service.container.desk.update_ticket = original  # type: ignore[union-attr, method-assign]
        with service.container.sessions() as session:
            row = session.get(OutboxWrite, ticket["id"])
            assert row is not None and row.status == "failed" and row.waits == 2
            assert row.last_error.startswith("gave up after 3 waits for Zoho")


def test_every_retry_sends_only_what_zoho_does_not_show(service: Service) -> None:
    """The PATCH is applied but answered 500, twice (the client's try and its one retry): the
    write's next attempt finds Zoho already showing the values and sends nothing."""
    service.desk.inject(
        Fault(status=500, times=2, method="PATCH", path_prefix="/api/v1/tickets/", applied=True)
    )
    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    service.clock.advance(seconds=5)
    service.work()
    assert len(patches(service, ticket["id"])) == 2
    with service.container.sessions() as session:
        row = session.get(OutboxWrite, ticket["id"])
        assert row is not None and row.status == "done"
        assert json.loads(row.last_sent) == {}  # the retry had nothing left to send


def test_an_event_no_retry_can_cure_is_quarantined_at_once_and_blocks_nothing(
    service: Service, monkeypatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from integration.cli import main
    from integration.models import InboxEvent

    ticket = service.add(subject=SPAM, createdTime=CREATED)
    service.work()
    service.desk.inject(
        Fault(
            status=400,
            times=1,
            method="GET",
            path_prefix=f"/api/v1/tickets/{ticket['id']}",
            body={"errorCode": "INVALID_DATA", "message": "bad request"},
        )
    )
    service.clock.set(mx("2026-11-27 18:40"))
    service.agent_update(ticket["id"], status="Escalated")
    service.work()
    with service.container.sessions() as session:
        [poison] = session.scalars(select(InboxEvent).where(InboxEvent.status == "quarantined"))
        assert poison.attempts == 1
        assert "Zoho refused" in poison.last_error

    service.clock.set(mx("2026-11-27 18:50"))
    service.agent_update(ticket["id"], status="Closed")  # the ticket's next event applies
    service.work()
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "Met"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
    assert main(["ticket", "show", ticket["id"]], clock=service.clock) == 0
    assert f"quarantined event {poison.id} (Ticket_Update): Zoho refused" in capsys.readouterr().out
