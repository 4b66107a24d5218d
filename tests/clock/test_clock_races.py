"""What an adversarial review of the clock found, kept as regression tests.

Policy: the shipped Ignus policy; office hours Mon–Fri 08:00–19:00 America/Mexico_City. "Ataque
masivo de SPAM" is High (first response 1 h, warning at 45 min); "Mejoras y nueva funcionalidad
en la tienda" is operations work (resolution due = the ETA); "Licencia de Zoho One" waits on a
third party. Tickets are created Monday 30 Nov 2026 10:00 local unless said.
"""

from __future__ import annotations

from sqlalchemy import select

from integration.clock.poll import poll_once
from integration.clock.sweep import sweep_once
from integration.models import Notice, TrackedTicket
from tests.clock.test_sweep import MONDAY_10, SPAM, at, notices, status
from tests.pipeline.conftest import Service, mx

OPERATIONS = "Mejoras y nueva funcionalidad en la tienda"


def keys(service: Service, ticket_id: str, state: str = "done") -> list[str]:
    with service.container.sessions() as session:
        return list(
            session.scalars(
                select(Notice.key)
                .where(Notice.ticket_id == ticket_id, Notice.status == state)
                .order_by(Notice.id)
            )
        )


def test_a_reply_heard_just_after_the_breach_was_stored_sends_no_breach(
    service: Service,
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 10:59"))
    service.agent_reply(ticket["id"])  # delivered, not applied yet
    service.clock.set(mx("2026-11-30 11:00"))
    sweep_once(service.container)  # the sweep gets there before the worker
    service.work()
    assert status(service, ticket["id"]) == "On track"
    assert not any("Vencido" in n for n in notices(service, ticket["id"]))
    assert "sla-vencido" not in service.desk.tags[ticket["id"]]
    assert keys(service, ticket["id"], "withdrawn") == ["response:High:breached"]


def test_a_reply_only_the_poll_sees_counts_as_the_first_response(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 10:20"))
    service.desk.add_thread(ticket["id"])  # its Ticket_Thread_Add is lost
    service.desk.agent_edit(ticket["id"], {"status": "Escalated"})  # no webhook either
    service.clock.set(mx("2026-11-30 10:30"))
    assert poll_once(service.container).stored == 1
    service.work()
    at(service, "2026-11-30 11:05")
    assert status(service, ticket["id"]) == "On track"
    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None and tracked.first_response_at is not None


def test_a_deferred_warning_is_not_sent_for_a_ticket_closed_in_the_meantime(
    service: Service,
) -> None:
    """Created 18:15: the warning falls at 19:00, closing time, and waits for 08:00; the
    ticket is answered and closed at 07:50."""
    service.clock.set(mx("2026-11-30 18:15"))
    ticket = service.add(subject=SPAM, createdTime="2026-12-01T00:15:00.000Z")
    service.work()
    at(service, "2026-11-30 19:00")
    assert status(service, ticket["id"]) == "At risk"
    service.clock.set(mx("2026-12-01 07:50"))
    service.agent_reply(ticket["id"])
    service.agent_update(ticket["id"], status="Closed")
    service.work()
    at(service, "2026-12-01 08:00")
    assert status(service, ticket["id"]) == "Met"
    assert notices(service, ticket["id"]) == []


def test_a_waiting_third_party_ticket_shows_waiting_on_third_party(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject="Licencia de Zoho One", createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 11:00"))
    service.agent_update(ticket["id"], status="Waiting on third party")  # an On Hold status
    service.work()
    assert status(service, ticket["id"]) == "Waiting on third party"


def test_an_agents_escalation_after_a_warning_gets_warnings_of_its_own(
    service: Service,
) -> None:
    """High warned at 10:45; the agent escalates to Urgent (15 min, 24x7) at 10:50."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    at(service, "2026-11-30 10:45")
    service.clock.set(mx("2026-11-30 10:50"))
    service.agent_update(ticket["id"], priority="Urgent")
    service.work()
    at(service, "2026-11-30 11:01")
    at(service, "2026-11-30 11:05")
    assert keys(service, ticket["id"])[:1] == ["response:High:at_risk"]
    assert "response:Urgent:breached" in keys(service, ticket["id"])


def test_a_renegotiated_eta_is_a_new_deadline_with_its_own_breach(
    service: Service, monkeypatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(
        subject=OPERATIONS, createdTime=MONDAY_10, cf={"cf_eta": "2026-12-01T18:00:00.000Z"}
    )  # ETA Tuesday 12:00
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    service.agent_reply(ticket["id"])
    service.work()
    at(service, "2026-12-01 12:00")
    service.clock.set(mx("2026-12-01 12:30"))
    service.agent_update(ticket["id"], cf={"cf_eta": "2026-12-04T18:00:00.000Z"})  # Friday 12:00
    service.work()
    at(service, "2026-12-04 12:00")
    breaches = [k for k in keys(service, ticket["id"]) if k.endswith(":breached")]
    assert breaches == [
        "resolution:Medium:eta=20261201T1800:breached",
        "resolution:Medium:eta=20261204T1800:breached",
    ]
    from integration.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
    assert main(["ticket", "show", ticket["id"]], clock=service.clock) == 0
    assert "eta renegotiations: 1" in capsys.readouterr().out


def test_an_eta_after_a_late_first_response_still_gets_its_breach(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=OPERATIONS, createdTime=MONDAY_10)
    service.work()
    at(service, "2026-12-01 10:30")  # the response (due Tue 10:00) is breached
    service.clock.set(mx("2026-12-01 11:00"))
    service.agent_reply(ticket["id"])
    service.agent_update(ticket["id"], cf={"cf_eta": "2026-12-02T18:00:00.000Z"})  # Wed 12:00
    service.work()
    at(service, "2026-12-02 12:01")
    assert "resolution:Medium:eta=20261202T1800:breached" in keys(service, ticket["id"])


def test_a_ticket_zoho_no_longer_has_stops_being_tracked(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    service.desk.delete_ticket(ticket["id"])  # its Ticket_Delete is lost
    at(service, "2026-11-30 10:45")  # the warning's status write meets a 404
    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None and tracked.deleted and tracked.next_check_at is None
    assert sweep_once(service.container).due == 0


def test_a_ticket_that_cannot_be_evaluated_does_not_block_the_sweep(service: Service) -> None:
    """A policy edit dropped the priority a tracked ticket had: that ticket is set aside for an
    hour (and audited); the others due at the same time are evaluated."""
    from sqlalchemy import update

    from integration import db

    service.clock.set(mx("2026-11-30 10:00"))
    broken, healthy = (service.add(subject=SPAM, createdTime=MONDAY_10) for _ in range(2))
    service.work()
    with db.transaction(service.container.sessions) as session:
        session.execute(
            update(TrackedTicket)
            .where(TrackedTicket.ticket_id == broken["id"])
            .values(classified_priority="Critical")  # no such priority in the policy
        )
    service.clock.set(mx("2026-11-30 10:45"))
    result = sweep_once(service.container)
    assert (result.due, result.changed) == (2, 1)
    service.work()
    assert status(service, healthy["id"]) == "At risk"
    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, broken["id"])
        assert tracked is not None and tracked.next_check_at == mx("2026-11-30 11:45")
