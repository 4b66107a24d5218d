"""The clock: statuses kept current as time passes, warnings and breaches once, reminders.

Policy: the shipped Ignus policy. Office hours Mon–Fri 08:00–19:00 America/Mexico_City (a day =
11 h); warnings at 75 % of a deadline's business time. "Ataque masivo de SPAM" is High (first
response 1 h); "Mejoras y nueva funcionalidad en la tienda" is operations work (Medium: response
1 day; resolution due = the ETA; "ETA pending" reminders every 4 h); "Licencia de Zoho One" waits
on a third party (follow-ups every business day). The clock and Zoho are the fake ones; sweeps
and the worker are run by hand at the instants that matter.
"""

from __future__ import annotations

from sqlalchemy import select

from integration.clock.sweep import sweep_once
from integration.models import Notice, TrackedTicket
from tests.pipeline.conftest import Service, mx

SPAM = "Ataque masivo de SPAM"
MONDAY_10 = "2026-11-30T16:00:00.000Z"  # Monday 30 Nov 2026 10:00 Mexico City


def at(service: Service, when: str) -> None:
    """The clock reaches `when` (local time): one sweep, then the worker."""
    service.clock.set(mx(when))
    sweep_once(service.container)
    service.work()


def status(service: Service, ticket_id: str) -> str:
    return service.desk.get_ticket(ticket_id)["cf"]["cf_sla_status"]  # type: ignore[no-any-return]


def notices(service: Service, ticket_id: str) -> list[str]:
    return [
        c["content"] for c in service.desk.comments[ticket_id] if "Prioridad" not in c["content"]
    ]


def test_a_high_ticket_goes_at_risk_at_75_percent_and_breached_at_its_due_once(
    service: Service,
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    assert status(service, ticket["id"]) == "On track"

    at(service, "2026-11-30 10:44")
    assert status(service, ticket["id"]) == "On track"
    at(service, "2026-11-30 10:45")  # 45 of the 60 minutes
    assert status(service, ticket["id"]) == "At risk"
    assert service.desk.tags[ticket["id"]] == ["sla-en-riesgo"]
    [warning] = notices(service, ticket["id"])
    assert warning.startswith("[SLA] En riesgo: la primera respuesta vence lun 30 nov 2026 11:00")

    at(service, "2026-11-30 10:50")
    at(service, "2026-11-30 11:00")
    assert status(service, ticket["id"]) == "Breached"
    at(service, "2026-11-30 11:30")
    at(service, "2026-11-30 12:00")

    assert service.desk.tags[ticket["id"]] == ["sla-en-riesgo", "sla-vencido"]
    response_notices = [n for n in notices(service, ticket["id"]) if "primera respuesta" in n]
    assert len(response_notices) == 2
    assert response_notices[1].startswith("[SLA] Vencido: la primera respuesta venció")
    statuses = [p["cf"]["cf_sla_status"] for p in service.desk.writes("PATCH") if "cf" in p.body
                for p in [p.body]]  # fmt: skip
    assert statuses == ["On track", "At risk", "Breached"]


def test_a_warning_fires_once_even_after_a_pause_and_resume(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    at(service, "2026-11-30 10:46")
    assert status(service, ticket["id"]) == "At risk"
    service.clock.set(mx("2026-11-30 10:47"))
    service.agent_update(ticket["id"], status="Waiting on customer")
    service.work()
    assert status(service, ticket["id"]) == "Paused"
    service.clock.set(mx("2026-11-30 12:00"))
    service.agent_update(ticket["id"], status="Open")  # 14 minutes left: At risk again
    service.work()
    at(service, "2026-11-30 12:05")
    assert status(service, ticket["id"]) == "At risk"
    with service.container.sessions() as session:
        keys = session.scalars(select(Notice.key).where(Notice.ticket_id == ticket["id"])).all()
    assert keys == ["response:High:at_risk"]
    assert service.desk.tags[ticket["id"]] == ["sla-en-riesgo"]


def test_a_breach_after_hours_is_written_at_once_and_commented_at_the_next_opening(
    service: Service,
) -> None:
    """An operations ticket whose ETA is Tuesday 22:00: Breached is written at 22:00; the
    comment (and tag) wait for Wednesday 08:00."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(
        subject="Mejoras y nueva funcionalidad en la tienda",
        createdTime=MONDAY_10,
        cf={"cf_eta": "2026-12-02T04:00:00.000Z"},  # Tuesday 1 Dec 22:00 local
    )
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    service.agent_reply(ticket["id"])
    service.work()

    at(service, "2026-12-01 22:00")
    assert status(service, ticket["id"]) == "Breached"
    assert notices(service, ticket["id"]) == []
    at(service, "2026-12-02 07:59")
    assert notices(service, ticket["id"]) == []
    at(service, "2026-12-02 08:00")
    [breach] = notices(service, ticket["id"])
    assert breach.startswith(
        "[SLA] Vencido: la resolución comprometida venció mar 1 dic 2026 22:00"
    )


def test_an_operations_ticket_without_an_eta_gets_its_reminders(service: Service) -> None:
    """Response due Tuesday 10:00 (one 11-hour day); then a reminder every 4 business hours."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(
        subject="Mejoras y nueva funcionalidad en la tienda", createdTime=MONDAY_10
    )
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    service.agent_reply(ticket["id"])
    service.work()
    for moment in ("2026-12-01 09:59", "2026-12-01 10:00", "2026-12-01 13:00", "2026-12-01 14:00",
                   "2026-12-01 18:00", "2026-12-02 08:00", "2026-12-02 08:30"):  # fmt: skip
        at(service, moment)
    reminders = [n for n in notices(service, ticket["id"]) if "Recordatorio" in n]
    assert [r.split(":")[0] for r in reminders] == [
        "[SLA] Recordatorio 1",  # Tue 10:00
        "[SLA] Recordatorio 2",  # Tue 14:00
        "[SLA] Recordatorio 3",  # Tue 18:00
    ]
    at(service, "2026-12-02 09:00")  # Tue 18:00 + 4 h of office time = Wed 11:00: not yet
    assert len([n for n in notices(service, ticket["id"]) if "Recordatorio" in n]) == 3


def test_a_third_party_ticket_waiting_two_business_days_gets_two_follow_ups(
    service: Service,
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject="Licencia de Zoho One", createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    service.agent_reply(ticket["id"])
    service.work()
    service.clock.set(mx("2026-11-30 11:00"))
    service.agent_update(ticket["id"], status="Waiting on third party")
    service.work()

    for moment in ("2026-12-01 10:59", "2026-12-01 11:00", "2026-12-01 15:00",
                   "2026-12-02 11:00", "2026-12-02 16:00"):  # fmt: skip
        at(service, moment)
    follow_ups = [n for n in notices(service, ticket["id"]) if "Seguimiento" in n]
    assert [f.split(":")[0] for f in follow_ups] == ["[SLA] Seguimiento 1", "[SLA] Seguimiento 2"]
    assert "espera a Zoho desde lun 30 nov 2026 11:00" in follow_ups[0]
    assert service.desk.tags[ticket["id"]] == ["sla-seguimiento-proveedor"]
    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None and '"Zoho"' in tracked.vendor_waits


def test_the_sweep_reads_only_due_tickets(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    for _ in range(3):
        service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    assert sweep_once(service.container).due == 0
    service.clock.set(mx("2026-11-30 10:45"))
    result = sweep_once(service.container)
    assert (result.due, result.changed) == (3, 3)
    assert sweep_once(service.container).due == 0  # next check now at 11:00


def test_ticket_show_gives_the_time_waited_on_each_vendor(
    service: Service, monkeypatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from integration.cli import main

    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject="Licencia de Zoho One", createdTime=MONDAY_10)
    service.work()
    service.clock.set(mx("2026-11-30 11:00"))
    service.agent_update(ticket["id"], status="Waiting on third party")
    service.work()
    at(service, "2026-12-01 11:00")  # a day of wall-clock time later
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
    assert main(["ticket", "show", ticket["id"]], clock=service.clock) == 0
    assert "waited on Zoho: 24.0 h" in capsys.readouterr().out
