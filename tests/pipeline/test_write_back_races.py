"""Races an adversarial review found in the write-back path, each kept as a regression test.

Policy: the shipped Ignus policy. "Ataque masivo de SPAM" is High (first response 1 h, office
hours Mon–Fri 08:00–19:00 America/Mexico_City); "Sufrimos un ataque DDoS" is Urgent. Tickets are
created Monday 30 Nov 2026 10:00 local. An agent's priority is the agent's decision: the service
must never write its own over it.
"""

from __future__ import annotations

import dataclasses

from integration.models import TrackedTicket
from integration.pipeline.worker import Worker
from integration.zoho.fake import ZOHO_DEFAULT_PRIORITIES, Fault
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Service, claim_write, mx

SPAM = "Ataque masivo de SPAM"
DDOS = "Sufrimos un ataque DDoS"
MONDAY_10 = "2026-11-30T16:00:00.000Z"


def tracked(service: Service, ticket_id: str) -> TrackedTicket:
    with service.container.sessions() as session:
        found = session.get(TrackedTicket, ticket_id)
        assert found is not None
        session.expunge(found)
        return found


def test_an_agent_change_in_the_same_second_as_our_patch_is_kept(service: Service) -> None:
    """Zoho's times often end in .000: our PATCH lands at T and the agent sets Low within the
    same second; the fetched state at T differs from our answer at T and is a later change."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.clock.advance(seconds=1)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "High"
    service.agent_update(ticket["id"], priority="Low")  # same clock instant as our PATCH
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"
    assert tracked(service, ticket["id"]).priority == "Low"


def test_an_agent_change_landing_between_our_fetch_and_patch_is_not_taken_for_ours(
    service: Service,
) -> None:
    """Our PATCH of other fields answers with the agent's new priority: only a priority we
    sent is ours."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    desk_client = service.container.desk
    real = desk_client.update_ticket  # type: ignore[union-attr]
    agent_events: list[dict] = []  # type: ignore[type-arg]

    def agent_gets_there_first(ticket_id: str, fields: dict) -> dict:  # type: ignore[type-arg]
        if not agent_events:
            assert "priority" not in fields
            service.clock.advance(seconds=1)
            before = service.desk.get_ticket(ticket_id)
            service.desk.agent_edit(ticket_id, {"priority": "Low"})
            after = service.desk.get_ticket(ticket_id)
            agent_events.append(
                event("Ticket_Update", after, service.desk.org_id, prev_state=before)
            )
            service.clock.advance(seconds=1)
        return real(ticket_id, fields)

    desk_client.update_ticket = agent_gets_there_first  # type: ignore[union-attr, method-assign]
    service.clock.set(mx("2026-11-30 10:05"))
    service.agent_update(ticket["id"], status="Waiting on customer")
    service.work()
    desk_client.update_ticket = real  # type: ignore[union-attr, method-assign]
    service.deliver(*agent_events)  # the agent's webhook arrives afterwards
    service.clock.advance(seconds=5)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"


def test_an_agent_change_seen_only_at_send_time_is_not_overwritten(service: Service) -> None:
    """A write queued with priority High is claimed; the agent sets Low before the writer
    fetches Zoho. The writer decides again from what it fetched and leaves the priority."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    sender = Worker(service.container, "sender")
    service.clock.set(mx("2026-11-30 10:05"))
    service.agent_update(ticket["id"], status="Waiting on customer")
    sender.process_events()
    row = claim_write(service, sender)
    service.clock.set(mx("2026-11-30 10:06"))
    before = service.desk.get_ticket(ticket["id"])
    service.desk.agent_edit(ticket["id"], {"priority": "Low"})
    after = service.desk.get_ticket(ticket["id"])
    service.clock.set(mx("2026-11-30 10:07"))
    sender.send(row)
    service.deliver(event("Ticket_Update", after, service.desk.org_id, prev_state=before))
    service.clock.advance(seconds=5)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"
    assert tracked(service, ticket["id"]).priority == "Low"


def test_a_retried_write_while_the_agents_event_backs_off_does_not_revert_it(
    service: Service,
) -> None:
    """Zoho hiccups: the agent's Ticket_Update cannot be applied yet (its fetch fails) while the
    ticket's write is due again. The write's own fetch sees the agent's Low."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    worker = Worker(service.container)
    worker.process_events()
    service.desk.inject(Fault(status=500, times=2, method="PATCH", path_prefix="/api/v1/tickets/"))
    worker.process_outbox()  # the first write fails: pending, with a backoff
    service.clock.advance(seconds=30)
    service.desk.inject(
        Fault(status=500, times=2, method="GET", path_prefix=f"/api/v1/tickets/{ticket['id']}")
    )
    service.agent_update(ticket["id"], priority="Low")
    worker.process_events()  # the agent's event: pending, with a backoff
    service.clock.advance(seconds=0.02)
    worker.process_outbox()
    service.clock.advance(seconds=60)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "Low"


def test_an_agents_first_priority_counts_when_zoho_refused_ours(service: Service) -> None:
    """A portal without Urgent (Zoho's default picklist): our Urgent is refused and Zoho keeps
    no priority. The agent then chooses High: the ticket runs on High's deadlines."""
    service.desk.set_picklist("priority", ZOHO_DEFAULT_PRIORITIES)
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=DDOS, createdTime=MONDAY_10)
    service.work()
    assert tracked(service, ticket["id"]).priority == "Urgent"
    assert service.desk.get_ticket(ticket["id"])["priority"] is None
    service.clock.set(mx("2026-11-30 10:05"))
    service.agent_update(ticket["id"], priority="High")
    service.work()
    assert tracked(service, ticket["id"]).priority == "High"


def test_a_lease_lost_during_the_comment_lookup_posts_nothing(service: Service) -> None:
    """The first POST fails before Zoho stores it; on the retry, worker a's lookup of the
    comments outlasts its lease, worker b takes the write and posts: a must not post too."""
    service.clock.set(mx("2026-11-30 10:00"))
    service.desk.inject(Fault(status=500, times=1, method="POST", path_prefix="/api/v1/tickets/"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    a, b = Worker(service.container, "a"), Worker(service.container, "b")
    a.run_until_idle()
    assert service.desk.comments[ticket["id"]] == []
    service.clock.advance(minutes=5)
    client = service.container.desk
    real_list = client.list_comments  # type: ignore[union-attr]
    lookups: list[str] = []

    def slow_lookup(ticket_id: str) -> list[dict]:  # type: ignore[type-arg]
        lookups.append(ticket_id)
        found = real_list(ticket_id)
        if len(lookups) == 1:  # a's lookup outlasts its lease; b takes the write
            service.clock.advance(seconds=a.writer.lease.total_seconds() + 1)
            b.process_outbox()
        return found

    client.list_comments = slow_lookup  # type: ignore[union-attr, method-assign]
    a.process_outbox()
    client.list_comments = real_list  # type: ignore[union-attr, method-assign]
    assert len(service.desk.comments[ticket["id"]]) == 1


def test_what_dry_run_recorded_is_written_when_write_back_goes_live(service: Service) -> None:
    """Run without credentials first, then with them: the fields and the comment reach Zoho
    when the live worker starts, without waiting for the ticket's next event."""
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    Worker(dataclasses.replace(service.container, desk=None)).run_until_idle()
    assert service.desk.writes("PATCH") == []

    service.clock.advance(minutes=5)
    live = Worker(service.container)
    live.writer.adopt_dry_run()  # what `run` does when it starts
    live.run_until_idle()
    shown = service.desk.get_ticket(ticket["id"])
    assert shown["priority"] == "High"
    assert shown["cf"]["cf_sla_status"] == "On track"
    assert len(service.desk.comments[ticket["id"]]) == 1
