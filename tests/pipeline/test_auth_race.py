"""An access token refused again right after a refresh (another process refreshed, or the token
expired in between) is an authentication race: the event or write is retried, never quarantined
or failed.

Policy: the shipped Ignus policy; the fake Zoho Desk answers 401 to a ticket's first two reads.
"""

from __future__ import annotations

from sqlalchemy import select

from integration.models import InboxEvent
from integration.zoho.fake import Fault
from tests.pipeline.conftest import Service, mx

CREATED = "2026-11-28T00:30:00.000Z"  # Fri 27 Nov 2026 18:30 local


def test_a_token_refused_twice_is_retried_not_quarantined(service: Service) -> None:
    service.clock.set(mx("2026-11-27 18:30"))
    ticket = service.desk.create_ticket(subject="Se cayó el servidor", createdTime=CREATED)
    service.desk.inject(
        Fault(
            status=401,
            body={"errorCode": "INVALID_OAUTH", "message": "The OAuth token is invalid"},
            times=2,
            method="GET",
            path_prefix=f"/api/v1/tickets/{ticket['id']}",
        )
    )
    from integration.zoho.fake_server import event

    assert service.deliver(event("Ticket_Add", ticket, service.desk.org_id)).status_code == 200
    service.work()
    with service.container.sessions() as session:
        [row] = session.scalars(select(InboxEvent))
        assert (row.status, row.last_error.split(":")[0]) == ("pending", "Unauthorized")
    service.clock.advance(minutes=5)  # past the backoff
    service.work()
    with service.container.sessions() as session:
        assert session.scalar(select(InboxEvent.status)) == "done"
