"""From a Zoho event to deadlines on the ticket, through the real HTTP endpoint, the real worker
and the fake Zoho Desk on a port.

Policy: the shipped Ignus policy. High = 1 h response, 1–3 days resolution on office hours
(Mon–Fri 08:00–19:00 America/Mexico_City, a day = 11 h). Calendar: Friday 27 Nov 2026 18:30 local
(UTC−6) is the creation time of every ticket here; Monday 30 Nov is a working day.
"""

from __future__ import annotations

from integration.zoho.fake_server import event
from tests.pipeline.conftest import Service, claim_write, mx, running_service
from tests.rules.helpers import policy_with

SPAM = "Ataque masivo de SPAM"  # a seed example: High


def patches(service: Service, ticket_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [r.body for r in service.desk.writes("PATCH", f"/api/v1/tickets/{ticket_id}")]


def test_ticket_add_ends_in_one_patch_and_one_private_comment(service: Service) -> None:
    ticket = service.add(subject=SPAM, priority="Medium", createdTime="2026-11-28T00:30:00.000Z")
    service.clock.set(mx("2026-11-27 18:35"))
    service.work()

    [patch] = patches(service, ticket["id"])
    assert patch["priority"] == "High"
    assert patch["cf"] == {
        "cf_sla_response_due": "2026-11-30T14:30:00.000Z",  # Mon 08:30
        "cf_sla_resolution_target": "2026-12-01T00:30:00.000Z",  # Mon 18:30
        "cf_sla_resolution_due": "2026-12-03T00:30:00.000Z",  # Wed 18:30
        "cf_sla_status": "On track",
        "cf_sla_rule": "high-spam-attack",
    }
    assert patch["dueDate"] == "2026-12-03T00:30:00.000Z"
    [comment] = service.desk.comments[ticket["id"]]
    assert comment["isPublic"] is False
    assert "Prioridad asignada: Alta" in comment["content"]
    assert "high-spam-attack" in comment["content"]
    assert "lun 30 nov 2026 08:30" in comment["content"]


def test_a_ticket_no_rule_matched_asks_the_agent_to_check_the_priority(service: Service) -> None:
    ticket = service.add(subject="Factura de octubre", createdTime="2026-11-30T16:00:00.000Z")
    service.clock.set(mx("2026-11-30 10:01"))
    service.work()
    [comment] = service.desk.comments[ticket["id"]]
    assert "Prioridad asignada: Media" in comment["content"]
    assert "ninguna regla coincidió" in comment["content"]
    assert "Por favor revise la prioridad." in comment["content"]


def test_a_clear_match_does_not_ask_for_a_check(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime="2026-11-30T16:00:00.000Z")
    service.clock.set(mx("2026-11-30 10:01"))
    service.work()
    [comment] = service.desk.comments[ticket["id"]]
    assert "revise la prioridad" not in comment["content"]


def test_hold_then_resume_moves_deadlines_by_the_held_business_time(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    service.clock.set(mx("2026-11-27 18:40"))
    service.agent_reply(ticket["id"])  # answered in time: the response is met
    service.work()

    service.clock.set(mx("2026-11-30 10:00"))
    service.agent_update(ticket["id"], status="Waiting on customer")
    service.work()
    paused = service.desk.get_ticket(ticket["id"])["cf"]
    assert paused["cf_sla_status"] == "Paused"
    assert paused["cf_sla_resolution_due"] is None

    service.clock.set(mx("2026-12-01 09:00"))  # 9 h on Monday + 1 h on Tuesday held
    service.agent_update(ticket["id"], status="Open")
    service.work()
    resumed = service.desk.get_ticket(ticket["id"])["cf"]
    assert resumed["cf_sla_resolution_target"] == "2026-12-01T23:30:00.000Z"  # Tue 17:30
    assert resumed["cf_sla_resolution_due"] == "2026-12-03T23:30:00.000Z"  # Thu 17:30
    office = service.container.policy.calendars["office"]
    before, after = mx("2026-12-02 18:30"), mx("2026-12-03 17:30")
    assert office.between(before, after) == 10 * 3600
    assert resumed["cf_sla_status"] == "On track"


def test_the_same_delivery_three_times_makes_one_patch(service: Service) -> None:
    ticket = service.desk.create_ticket(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    body = event("Ticket_Add", ticket, service.desk.org_id, event_time="1795833000000")
    answers = [service.deliver(body).json() for _ in range(3)]
    assert [a["new"] for a in answers] == [1, 0, 0]
    service.work()
    assert len(patches(service, ticket["id"])) == 1


def test_out_of_order_deliveries_end_in_the_newest_state(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    service.clock.set(mx("2026-11-30 09:00"))
    before_low = service.desk.get_ticket(ticket["id"])
    service.desk.agent_edit(ticket["id"], {"priority": "Low"})
    low = service.desk.get_ticket(ticket["id"])
    service.clock.set(mx("2026-11-30 10:00"))
    service.desk.agent_edit(ticket["id"], {"priority": "Urgent"})
    urgent = service.desk.get_ticket(ticket["id"])
    org = service.desk.org_id
    # Zoho delivers the newer change first.
    service.deliver(event("Ticket_Update", urgent, org, prev_state=low))
    service.deliver(event("Ticket_Update", low, org, prev_state=before_low))
    service.work()

    final = service.desk.get_ticket(ticket["id"])
    assert final["priority"] == "Urgent"  # the agent's last word; we never overwrite it
    # Urgent from Mon 10:00 on the 24x7 clock: response 10:15, resolution 12:00.
    assert final["cf"]["cf_sla_response_due"] == "2026-11-30T16:15:00.000Z"
    assert final["cf"]["cf_sla_resolution_due"] == "2026-11-30T18:00:00.000Z"


def test_the_echo_of_our_own_patch_makes_no_patch(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    before = service.desk.get_ticket(ticket["id"])
    service.work()
    after = service.desk.get_ticket(ticket["id"])
    assert after["modifiedBy"] == service.desk.agent["id"]  # our API user made that change
    # Zoho fires Ticket_Update for our own write (as if the fields filter were not honoured).
    service.deliver(event("Ticket_Update", after, service.desk.org_id, prev_state=before))
    service.work()
    assert len(patches(service, ticket["id"])) == 1
    assert len(service.desk.comments[ticket["id"]]) == 1


def test_a_thread_heard_before_its_ticket_is_applied_once_the_ticket_arrives(
    service: Service,
) -> None:
    ticket = service.desk.create_ticket(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    service.clock.set(mx("2026-11-27 18:45"))
    thread = service.desk.add_thread(ticket["id"])
    service.deliver(
        event("Ticket_Thread_Add", {**thread, "ticketId": ticket["id"]}, service.desk.org_id)
    )
    service.deliver(event("Ticket_Add", service.desk.get_ticket(ticket["id"]), service.desk.org_id))
    service.work()
    from integration.models import TrackedTicket

    with service.container.sessions() as session:
        tracked = session.get(TrackedTicket, ticket["id"])
        assert tracked is not None
        assert tracked.first_response_at == mx("2026-11-27 18:45")


def test_ticket_delete_stops_tracking(service: Service) -> None:
    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    service.desk.delete_ticket(ticket["id"])
    service.deliver(event("Ticket_Delete", {"id": ticket["id"]}, service.desk.org_id))
    service.work()
    from integration.models import TrackedTicket

    with service.container.sessions() as session:
        assert session.get(TrackedTicket, ticket["id"]).deleted  # type: ignore[union-attr]


def test_a_ticket_first_seen_through_an_update_keeps_its_priority(service: Service) -> None:
    # The ticket predates the service: an agent set Low; its first event is an update.
    ticket = service.desk.create_ticket(
        subject=SPAM, priority="Low", createdTime="2026-11-28T00:30:00.000Z"
    )
    service.clock.set(mx("2026-11-30 09:00"))
    service.agent_update(ticket["id"], status="Escalated")
    service.work()
    [patch] = patches(service, ticket["id"])
    assert "priority" not in patch
    assert patch["cf"]["cf_sla_rule"] == "high-spam-attack"
    # Low: 1 day to respond, from Friday 18:30 -> Monday 18:30 (Mon 30 Nov 2026, UTC-6).
    assert patch["cf"]["cf_sla_response_due"] == "2026-12-01T00:30:00.000Z"
    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"


def test_a_new_ticket_heard_first_through_an_update_is_still_classified(service: Service) -> None:
    # Zoho's default priority is on the ticket; its Ticket_Add is late, an update comes first.
    ticket = service.desk.create_ticket(
        subject=SPAM, priority="Medium", createdTime="2026-11-28T00:30:00.000Z"
    )
    service.clock.set(mx("2026-11-27 18:40"))
    service.agent_update(ticket["id"], status="Escalated")
    service.work()
    [patch] = patches(service, ticket["id"])
    assert patch["priority"] == "High"


def test_a_write_in_flight_is_decided_again_at_send_time_and_the_comment_posted_once(
    service: Service,
) -> None:
    from integration.pipeline.worker import Worker

    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    sender, applier = Worker(service.container), Worker(service.container)
    applier.process_events()
    in_flight = claim_write(service, sender)  # the sender takes the write
    service.clock.set(mx("2026-11-30 08:10"))  # before the response is due (08:30)
    service.agent_update(ticket["id"], status="Waiting on customer")
    applier.process_events()  # new values coalesce into the row being sent
    sender.send(in_flight)  # decided again from Zoho's state at send time: Paused
    sender.run_until_idle()  # nothing older follows it

    assert [p["cf"]["cf_sla_status"] for p in patches(service, ticket["id"])] == ["Paused"]
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "Paused"
    # The comment states the deadlines, which are unknown while on hold: it waits for them.
    assert service.desk.comments[ticket["id"]] == []
    service.clock.set(mx("2026-11-30 09:00"))
    service.agent_update(ticket["id"], status="Open")
    service.work()
    [comment] = service.desk.comments[ticket["id"]]
    assert "Primera respuesta antes de: lun 30 nov 2026 09:20" in comment["content"]


def test_a_department_with_zohos_own_sla_keeps_its_due_date(database_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    policy = policy_with(fields={"zoho_sla_departments": ["432100000000006907"]})
    with running_service(database_url, clock, policy=policy) as service:
        ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
        service.work()
        [patch] = patches(service, ticket["id"])
    assert "dueDate" not in patch
    assert patch["cf"]["cf_sla_resolution_due"] == "2026-12-03T00:30:00.000Z"


def test_a_retried_write_does_not_post_the_comment_twice(service: Service) -> None:
    # The comment reaches Zoho, then Zoho fails the request (500): the worker cannot tell
    # whether it was stored, as after a read timeout or a crash, and the write is retried.
    ticket = service.add(subject=SPAM, createdTime="2026-11-28T00:30:00.000Z")
    real_add = service.desk.add_comment

    def add_then_fail(ticket_id: str, content: str, *, public: bool = False):  # type: ignore[no-untyped-def]
        real_add(ticket_id, content, public=public)
        service.desk.add_comment = real_add  # type: ignore[method-assign]
        raise RuntimeError("connection lost after the comment was stored")

    service.desk.add_comment = add_then_fail  # type: ignore[method-assign]
    service.work()
    service.clock.advance(seconds=5)
    service.work()
    assert len(service.desk.comments[ticket["id"]]) == 1
