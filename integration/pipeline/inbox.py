"""The durable inbox: deliveries are parsed, given a dedupe key and stored with insert-or-ignore.
The worker claims them through `queue.claim`.

A delivery is refused whole (`DeliveryError`, HTTP 400) only when it is not a JSON array or object
at all. Each event is then checked on its own (`validate.py`): a valid one is stored `pending` (or
`ignored` for event types the worker does not handle), an invalid one (including an array element
that is not an object) is stored `quarantined` with its problems in `last_error`, in escaped ASCII
JSON, so that the valid events beside it are not lost and the worker never sees it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..models import UTCDateTime
from ..rules.policy import FieldNames
from .observe import parse_zoho_time
from .validate import (
    HANDLED_EVENTS,
    MAX_DEPTH,
    THREAD_EVENTS,
    check_event,
    clean,
    escaped_json,
    label,
    prune,
)

QUARANTINED = "quarantined"
_MAX_INT_DIGITS = 4000  # longer integers (Python refuses to parse them) are read as +-infinity


class DeliveryError(ValueError):
    """The body is not a Zoho delivery; the message names the problem (HTTP 400)."""


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    org_id: str
    ticket_id: str
    event_time: datetime | None
    modified_time: datetime | None
    body: Any  # the event object, cleaned; a quarantined event's as received (pruned)
    problems: tuple[str, ...] = ()  # why the event is quarantined (none for a valid one)
    key: str = ""  # a dedupe key of the caller's (adopt: one event per ticket, ever)

    @property
    def handled(self) -> bool:
        return self.event_type in HANDLED_EVENTS

    @property
    def quarantined(self) -> bool:
        return bool(self.problems)

    @property
    def problem(self) -> str:
        return "; ".join(self.problems)

    @property
    def status(self) -> str:
        if self.problem:
            return QUARANTINED
        return "pending" if self.handled else "ignored"

    def stored_body(self) -> str:
        if self.problem:  # NUL and lone surrogates as \u escapes: ASCII text, always storable
            return escaped_json(self.body)
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)

    def dedupe_key(self) -> str:
        """Zoho sends no delivery id: orgId, event type, resource id, modifiedTime (or eventTime)
        and a hash of the payload identify an event across redeliveries. A quarantined event is
        known by a hash of its whole JSON (escaped: its text may not be encodable). An event
        given its own `key` is known by it."""
        if self.problem:
            return hashlib.sha256(b"quarantined|" + self.stored_body().encode()).hexdigest()
        if self.key:
            return self.key
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


def _parse_int(digits: str) -> int | float:
    """JSON integers; one too long for Python to parse becomes +-infinity (then refused where a
    number matters) rather than making the whole delivery "not JSON"."""
    if len(digits) <= _MAX_INT_DIGITS:
        return int(digits)
    return float("-inf") if digits.startswith("-") else float("inf")


def parse_delivery(
    raw: bytes,
    fields: FieldNames | None = None,
    *,
    payload_is_history: bool = True,
    quarantine: bool = False,
) -> list[ParsedEvent]:
    """Zoho's JSON array of `{eventType, eventTime, orgId, payload, prevState}` (a single object is
    accepted too; an empty array is a delivery of nothing). `fields` names the custom fields the
    worker reads (the policy's; the shipped names by default); `payload_is_history` says whether
    the worker reads the payload's fields (dry-run) or only its ticket id (live): see
    `validate.check_event`.

    `quarantine`: an invalid event is returned quarantined (the webhook: Zoho documents no
    redelivery, so the valid events beside it must be kept); without it, the first invalid event
    raises DeliveryError naming it (a person replaying a file wants to hear what is wrong)."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
    except UnicodeDecodeError:
        raise DeliveryError("body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise DeliveryError("body is not JSON") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DeliveryError("body must be a JSON array of events (or one event object)")
    names = fields or FieldNames()
    events = [
        _parse_event(f"events[{index}]", item, names, payload_is_history)
        for index, item in enumerate(data)
    ]
    refused = next((e.problems[0] for e in events if e.quarantined), "")
    if refused and not quarantine:
        raise DeliveryError(refused)
    return events


def _parse_event(
    where: str, item: Any, fields: FieldNames, payload_is_history: bool
) -> ParsedEvent:
    item, too_deep = prune(item)
    if not isinstance(item, dict):
        return _quarantine(where, item, ["an event must be a JSON object"])
    problems = check_event(item, fields, payload_is_history=payload_is_history)
    if too_deep:
        problems.insert(0, f"nested deeper than {MAX_DEPTH} levels")
    if problems:
        return _quarantine(where, item, problems)
    body = clean(item)
    event_type = body["eventType"].strip()
    payload = body["payload"]
    if event_type in ("Ticket_Add", "Ticket_Update") and payload.get("cf", {}) is None:
        payload["cf"] = {}  # read alike everywhere; a null would break merging write-back fields
    org = body.get("orgId")
    return ParsedEvent(
        event_type=event_type[:64],
        org_id="" if org is None else str(org)[:32],
        ticket_id=_resource_id(event_type, payload),
        event_time=parse_zoho_time(body.get("eventTime")),
        modified_time=parse_zoho_time(payload.get("modifiedTime"))
        if event_type not in THREAD_EVENTS
        else parse_zoho_time(payload.get("createdTime")),
        body=body,
    )


def _quarantine(where: str, item: Any, problems: list[str]) -> ParsedEvent:
    """An event the worker must never see, stored for a person to look at."""
    event = item if isinstance(item, dict) else {}
    event_type = label(event.get("eventType"), 64)
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
    key = "ticketId" if event_type in THREAD_EVENTS or "Comment" in event_type else "id"
    return ParsedEvent(
        event_type=event_type,
        org_id=label(event.get("orgId"), 32),
        ticket_id=label(payload.get(key), 32),
        event_time=parse_zoho_time(event.get("eventTime")),
        modified_time=None,
        body=item,
        problems=tuple(f"{where}: {problem}" for problem in problems),
    )


def store(
    session: Session | Connection, events: Sequence[ParsedEvent], *, source: str, now: datetime
) -> tuple[int, int]:
    """Insert-or-ignore every event, quarantined ones included (the caller commits). Returns
    (new, duplicates): rows inserted, and events already stored."""
    ids = store_returning_ids(session, events, source=source, now=now)
    return len(ids), len(events) - len(ids)


def store_returning_ids(
    session: Session | Connection,
    events: Sequence[ParsedEvent],
    *,
    source: str,
    now: datetime,
) -> list[int]:
    """As `store`, returning the ids of the rows inserted (a redelivered event has none).

    One cached statement per event: the same SQL text on SQLite and PostgreSQL, compiled once
    per process (a dialect `insert()` built per call is compiled on every request)."""
    ids: list[int] = []
    for event in events:
        ids.extend(
            session.execute(
                INSERT_EVENT,
                {
                    "dedupe_key": event.dedupe_key(),
                    "received_at": now,
                    "source": source,
                    "event_type": event.event_type,
                    "org_id": event.org_id,
                    "ticket_id": event.ticket_id,
                    "event_time": event.event_time,
                    "modified_time": event.modified_time,
                    "body": event.stored_body(),
                    "status": event.status,
                    "available_at": now,
                    "last_error": event.problem,
                },
            ).scalars()
        )
    return ids


# Insert-or-ignore on the dedupe key (SQLite 3.35+ and PostgreSQL share this syntax). The
# instants are bound through the column type, so SQLite stores them as the ORM does.
INSERT_EVENT = text(
    "INSERT INTO inbox_events (dedupe_key, received_at, source, event_type, org_id, ticket_id, "
    "event_time, modified_time, body, status, attempts, available_at, last_error, waits) "
    "VALUES (:dedupe_key, :received_at, :source, :event_type, :org_id, :ticket_id, "
    ":event_time, :modified_time, :body, :status, 0, :available_at, :last_error, 0) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
).bindparams(
    bindparam("received_at", type_=UTCDateTime()),
    bindparam("event_time", type_=UTCDateTime()),
    bindparam("modified_time", type_=UTCDateTime()),
    bindparam("available_at", type_=UTCDateTime()),
)
