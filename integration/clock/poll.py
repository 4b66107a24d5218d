"""Reconciliation polling: Zoho is asked for the tickets modified since a saved cursor, and each
goes into the inbox as a webhook event would (source `poll`), for the worker to apply.

It catches what webhooks miss: a lost delivery (Zoho documents no redelivery), a change to a
field outside the subscription's 5-field filter, and every change on editions without webhooks
(Free, Standard), which are then served by polling alone, one interval late.

- Window: from the cursor less CLOCK_POLL_OVERLAP_S (changes Zoho's search shows late) to now,
  read with `search_modified_tickets` (`modifiedTimeRange`, `sortBy=modifiedTime`, `limit` 100;
  keyset paging that never takes `from` past Zoho's cap: see `zoho.client.ModifiedTickets`).
- Cursor: row `zoho_poll` of `cursors`, meaning "every ticket changed before this instant is in
  the inbox". It moves in the same transaction that stores the tickets read, and only to what
  the search has read through (the window's end once it is read whole), never back: a poll
  stopped by Zoho (credits, re-authorisation, an outage) or by the database starts again where
  it stopped. The first poll starts CLASSIFY_WINDOW_S back (the row is written before Zoho is
  asked, so a first poll that fails does not move the start): a ticket created in that time
  whose Ticket_Add never came is still new (classified), so it is caught; an older untracked
  ticket would only keep its priority, which its next change does as well.
- Events: a ticket the service does not track yet, created within CLASSIFY_WINDOW_S, becomes a
  `Ticket_Add` (classified, its priority written, the comment posted); any other a
  `Ticket_Update` (a ticket the service never saw, older than that, keeps its priority: the
  ledger's rule). The same state polled again stores nothing: the dedupe key holds modifiedTime
  and a hash of the payload, and the key under the other event type is looked up too (a ticket
  first stored as a Ticket_Add is tracked by the next poll). In live mode the worker fetches
  each ticket anyway: the search's (reduced) object is only a hint.
- Dry-run (no Zoho client): nothing to ask; the poll says so and does nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import db
from ..container import Container
from ..models import Cursor, InboxEvent, TrackedTicket
from ..pipeline.inbox import ParsedEvent, parse_delivery, store
from ..pipeline.observe import parse_zoho_time
from ..pipeline.step import WAIT_FOR_ZOHO as ZOHO_SAYS_WAIT
from ..zoho import RetryableError, TokenEndpointBusy, ZohoError
from ..zoho.client import zoho_time

log = logging.getLogger(__name__)

CURSOR = "zoho_poll"
PAGE_SIZE = 100  # Zoho's most per search request; also the tickets stored per transaction
SOURCE = "poll"
TICKET_EVENTS = ("Ticket_Add", "Ticket_Update")
# Zoho cannot be asked now for a reason time (or a person) fixes: stop quietly, resume later.
WAIT_FOR_ZOHO = (*ZOHO_SAYS_WAIT, TokenEndpointBusy)


@dataclass
class PollResult:
    read: int = 0  # tickets the search listed (each state once)
    stored: int = 0  # new inbox events
    cursor: datetime | None = None  # the cursor after the poll
    stopped: str = ""  # "" when the whole window was read and stored; otherwise why not
    since: datetime | None = None  # the window asked for
    until: datetime | None = None
    requests: int = 0  # search requests made
    unreachable: list[str] = field(default_factory=list)  # slices the search could not page


def poll_once(container: Container, *, now: datetime | None = None) -> PollResult:
    """Read Zoho's tickets modified in [cursor - overlap, now] into the inbox; advance the
    cursor past what was stored. Stops early, quietly, while Zoho cannot be called (credits,
    re-authorisation) and on a Zoho or database failure; the next poll resumes from the cursor."""
    if container.desk is None:
        log.info("poll: dry-run (no Zoho credentials): nothing to ask Zoho, nothing polled")
        return PollResult(stopped="dry-run: no Zoho client to ask")
    now = now or container.clock()
    settings = container.settings
    result = PollResult(until=now)
    try:
        cursor = _start(container, now)
        result.cursor = cursor
        result.since = min(cursor, now) - timedelta(seconds=settings.clock_poll_overlap_s)
        _read(container, result, now)
    except DBAPIError as exc:  # what was committed stands; the rest is read again next time
        result.stopped = f"database unavailable ({type(exc.orig).__name__})"
        log.warning("poll stopped: %s; it resumes from its cursor", result.stopped)
    log.info(
        "poll: %d ticket(s) modified %s..%s read in %d request(s), %d new event(s); cursor %s%s",
        result.read,
        _show(result.since),
        _show(result.until),
        result.requests,
        result.stored,
        _show(result.cursor),
        f"; stopped: {result.stopped}" if result.stopped else "",
    )
    return result


def _read(container: Container, result: PollResult, now: datetime) -> None:
    assert container.desk is not None and result.since is not None
    tickets = container.desk.search_modified_tickets(result.since, now, page_size=PAGE_SIZE)
    read: list[dict[str, Any]] = []
    try:
        try:
            for ticket in _counted(tickets, result):
                read.append(ticket)
                if len(read) == PAGE_SIZE:
                    _save(container, result, read, getattr(tickets, "read_before", None), now)
                    read = []
        except WAIT_FOR_ZOHO as exc:
            result.stopped = f"waiting for Zoho: {exc}"
            log.info("poll stopped: %s; it resumes from its cursor", result.stopped)
        except RetryableError as exc:
            result.stopped = f"Zoho unavailable: {exc}"
            log.warning("poll stopped: %s; it resumes from its cursor", result.stopped)
        except ZohoError as exc:  # e.g. a missing Desk.search.READ scope: polling cannot work
            result.stopped = f"Zoho refused the search: {exc}"
            log.error("poll stopped: %s", result.stopped)
        reached = now if not result.stopped else getattr(tickets, "read_before", None)
        _save(container, result, read, reached, now)  # what was read before any stop, too
    finally:
        result.requests = getattr(tickets, "requests", 0)
        for modified, created in getattr(tickets, "crowded", []):
            result.unreachable.append(
                f"changed {_show(modified[0])}..{_show(modified[1])}, "
                f"created {_show(created[0])}..{_show(created[1])}"
            )


def _counted(tickets: Iterator[dict[str, Any]], result: PollResult) -> Iterator[dict[str, Any]]:
    for ticket in tickets:
        result.read += 1
        yield ticket


def _start(container: Container, now: datetime) -> datetime:
    """The saved cursor; on the first poll, CLASSIFY_WINDOW_S back, saved at once."""
    with db.transaction(container.sessions) as session:
        row = session.get(Cursor, CURSOR)
        if row is not None:
            return row.at
        start = now - timedelta(seconds=container.settings.classify_window_s)
        insert = db.insert_for(session.get_bind().dialect.name)
        session.execute(
            insert(Cursor)
            .values(name=CURSOR, at=start, updated_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = session.get(Cursor, CURSOR)
        assert row is not None
        return row.at


def _save(
    container: Container,
    result: PollResult,
    tickets: Sequence[dict[str, Any]],
    reached: datetime | None,
    now: datetime,
) -> None:
    """Store the tickets read as inbox events and move the cursor to `reached` (everything
    changed before it is stored), in one transaction: either both happen or neither."""
    with db.transaction(container.sessions) as session:
        stored = 0
        if tickets:
            events = _events(session, container, tickets, now)
            stored, _ = store(session, _not_stored_yet(session, events), source=SOURCE, now=now)
        cursor = session.get(Cursor, CURSOR, with_for_update=True)
        assert cursor is not None  # written by _start
        if reached is not None and min(reached, now) > cursor.at:
            cursor.at = min(reached, now)
        cursor.updated_at = now
        at = cursor.at
    result.stored += stored
    result.cursor = at
    if stored:
        container.wake_worker()


def _events(
    session: Session, container: Container, tickets: Sequence[dict[str, Any]], now: datetime
) -> list[ParsedEvent]:
    """Webhook-shaped events for the tickets, parsed and validated as a delivery is."""
    ids = {str(t.get("id")) for t in tickets}
    tracked = set(
        session.scalars(select(TrackedTicket.ticket_id).where(TrackedTicket.ticket_id.in_(ids)))
    )
    window = timedelta(seconds=container.settings.classify_window_s)
    delivery = []
    for ticket in tickets:
        created = parse_zoho_time(ticket.get("createdTime"))
        new = (
            str(ticket.get("id")) not in tracked and created is not None and now - created <= window
        )
        event: dict[str, Any] = {
            "eventType": "Ticket_Add" if new else "Ticket_Update",
            "orgId": container.settings.zoho_org_id,
            "payload": ticket,
        }
        if ticket.get("modifiedTime") is not None:
            event["eventTime"] = ticket["modifiedTime"]  # the change's own time, not the poll's
        delivery.append(event)
    return parse_delivery(
        json.dumps(delivery).encode(),
        container.policy.fields,
        payload_is_history=not container.live,
        quarantine=True,
    )


def _not_stored_yet(session: Session, events: list[ParsedEvent]) -> list[ParsedEvent]:
    """Without the events whose state is in the inbox under the other ticket event type (first
    polled as a Ticket_Add, now tracked and polled as a Ticket_Update: the same state)."""
    other = {
        index: replace(e, event_type=_other(e.event_type)).dedupe_key()
        for index, e in enumerate(events)
        if e.event_type in TICKET_EVENTS and not e.quarantined
    }
    if not other:
        return events
    known = set(
        session.scalars(
            select(InboxEvent.dedupe_key).where(InboxEvent.dedupe_key.in_(other.values()))
        )
    )
    return [e for index, e in enumerate(events) if other.get(index) not in known]


def _other(event_type: str) -> str:
    return "Ticket_Update" if event_type == "Ticket_Add" else "Ticket_Add"


def _show(moment: datetime | None) -> str:
    return zoho_time(moment) if moment is not None else "-"
