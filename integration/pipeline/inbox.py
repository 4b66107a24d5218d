"""The durable inbox: deliveries are parsed, given a dedupe key and stored with insert-or-ignore.
The worker claims them through `queue.claim`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import db
from ..models import InboxEvent
from .observe import parse_zoho_time

HANDLED_EVENTS = ("Ticket_Add", "Ticket_Update", "Ticket_Thread_Add", "Ticket_Delete")
THREAD_EVENTS = ("Ticket_Thread_Add",)


class DeliveryError(ValueError):
    """The body is not a Zoho delivery; the message names the problem (HTTP 400)."""


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    org_id: str
    ticket_id: str
    event_time: datetime | None
    modified_time: datetime | None
    body: dict[str, Any]

    @property
    def handled(self) -> bool:
        return self.event_type in HANDLED_EVENTS

    def dedupe_key(self) -> str:
        """Zoho sends no delivery id: orgId, event type, resource id, modifiedTime (or eventTime)
        and a hash of the payload identify an event across redeliveries."""
        content = json.dumps(
            [self.body.get("payload"), self.body.get("prevState")],
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        instant = self.modified_time or self.event_time
        parts = [
            self.org_id,
            self.event_type,
            self.ticket_id,
            instant.isoformat() if instant else "",
            hashlib.sha256(content.encode()).hexdigest(),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _resource_id(event_type: str, payload: dict[str, Any]) -> str:
    """The ticket an event is about: a thread's or comment's `ticketId`, else the payload's `id`."""
    key = "ticketId" if event_type in THREAD_EVENTS or "Comment" in event_type else "id"
    value = payload.get(key)
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value)[:32]


def parse_delivery(raw: bytes) -> list[ParsedEvent]:
    """Zoho's JSON array of `{eventType, eventTime, orgId, payload, prevState}` (a single object is
    accepted too)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeliveryError("body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise DeliveryError("body is not JSON") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DeliveryError("body must be a JSON array of events (or one event object)")
    if not data:
        raise DeliveryError("the delivery holds no events")
    events = []
    for index, item in enumerate(data):
        where = f"events[{index}]"
        if not isinstance(item, dict):
            raise DeliveryError(f"{where}: an event must be a JSON object")
        event_type = item.get("eventType")
        if not isinstance(event_type, str) or not event_type.strip():
            raise DeliveryError(f"{where}: missing eventType")
        payload = item.get("payload")
        if not isinstance(payload, dict):
            raise DeliveryError(f"{where}: missing payload (a JSON object)")
        prev = item.get("prevState")
        if prev is not None and not isinstance(prev, dict):
            raise DeliveryError(f"{where}: prevState must be a JSON object")
        ticket_id = _resource_id(event_type, payload)
        if event_type in HANDLED_EVENTS and not ticket_id:
            field = "ticketId" if event_type in THREAD_EVENTS else "id"
            raise DeliveryError(f"{where}: payload has no {field}")
        org = item.get("orgId")
        events.append(
            ParsedEvent(
                event_type=event_type.strip()[:64],
                org_id="" if org is None or isinstance(org, (dict, list)) else str(org)[:32],
                ticket_id=ticket_id,
                event_time=parse_zoho_time(item.get("eventTime")),
                modified_time=parse_zoho_time(payload.get("modifiedTime"))
                if event_type not in THREAD_EVENTS
                else parse_zoho_time(payload.get("createdTime")),
                body=item,
            )
        )
    return events


def store(
    session: Session, events: Sequence[ParsedEvent], *, source: str, now: datetime
) -> tuple[int, int]:
    """Insert-or-ignore every event (the caller commits). Returns (new, duplicates)."""
    insert = db.insert_for(session.get_bind().dialect.name)
    new = 0
    for event in events:
        statement = (
            insert(InboxEvent)
            .values(
                dedupe_key=event.dedupe_key(),
                received_at=now,
                source=source,
                event_type=event.event_type,
                org_id=event.org_id,
                ticket_id=event.ticket_id,
                event_time=event.event_time,
                modified_time=event.modified_time,
                body=json.dumps(event.body, separators=(",", ":"), ensure_ascii=False),
                status="pending" if event.handled else "ignored",
                attempts=0,
                available_at=now,
                last_error="",
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(InboxEvent.id)
        )
        new += len(session.execute(statement).all())
    return new, len(events) - new
