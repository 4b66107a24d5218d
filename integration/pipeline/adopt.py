"""Adopting a portal's open tickets: the tickets that were open before the service started (or
before it was pointed at this portal) are brought under the policy like any other.

`adopt_open_tickets` walks Zoho's tickets by creation time (`search_created_tickets`: keyset on
createdTime, 100 a page) and puts one inbox event per open ticket the service does not track
yet, source `adopt`, for the worker to apply as it applies a webhook:

- Each adopted once: the event's dedupe key is `adopt:<ticket id>` (insert-or-ignore), so a
  ticket is enqueued once however often a walk reads it (a resumed walk re-reads the last
  instant; two runs may overlap). A ticket the service already tracks is not enqueued; a closed
  one is skipped.
- Resumable: two rows of `cursors`: `adopt_from`, where the walk started, and `adopt`, how far
  it has read ("every open ticket created from `adopt_from` to before this instant is in the
  inbox or tracked"). `adopt` moves in the transaction that stores a page's events, and only to
  the creation time of the last ticket stored, so a run stopped by Zoho (credits spent,
  re-authorisation, an outage), by `limit`, by the credit reserve or by a crash resumes there.
  A walk read to the end moves it to the run's start: the next run reads only tickets created
  since (mostly tracked already, through webhooks).
- Where a run starts: without `since`, where the walk stopped (the beginning of time on the first
  run). With `since` inside what the walk covers (`adopt_from` <= since <= `adopt`), where the
  walk stopped too: that range is already read. Otherwise (before the walk's start, or past where
  it stopped) a new walk starts at `since`; what is re-read is enqueued no second time.
- Dry-run: the same walk and counts, nothing stored, cursors untouched.

The worker fetches each adopted ticket (the truth) and its threads, and the ledger keeps the
priority it has (agents chose it; only a ticket without one is classified), takes the deadlines
from createdTime, the first response from the threads and the current hold from the ticket's
state; the audit says what could not be known (`adoption_note`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..container import Container
from ..models import Cursor, InboxEvent, TrackedTicket
from ..rules import Policy
from ..zoho import RetryableError, TokenEndpointBusy, ZohoError
from ..zoho.client import zoho_time
from .inbox import ParsedEvent, parse_delivery, store_returning_ids
from .ledger import ADOPT_SOURCE
from .observe import CLOSED, _stop_reason, observe, parse_zoho_time
from .step import WAIT_FOR_ZOHO as ZOHO_SAYS_WAIT

log = logging.getLogger(__name__)

SOURCE = ADOPT_SOURCE
CURSOR = "adopt"  # how far the walk has read (creation time)
CURSOR_FROM = "adopt_from"  # where the walk started
PAGE_SIZE = 100  # Zoho's most per search request; also the tickets stored per transaction
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
NO_PRIORITY_LABEL = "none (to classify)"
_MS = timedelta(milliseconds=1)
# Zoho cannot be asked now for a reason time (or a person) fixes: stop, resume later.
WAIT_FOR_ZOHO = (*ZOHO_SAYS_WAIT, TokenEndpointBusy)
NOT_KNOWN = (
    "holds before adoption",
    "priority changes before adoption",
    "status changes before adoption",
)


def dedupe_key(ticket_id: str) -> str:
    return f"{SOURCE}:{ticket_id}"


@dataclass
class AdoptResult:
    """What one run read and did (in dry-run: would do)."""

    walk_from: datetime  # where the walk started (this run or an earlier one)
    since: datetime  # where this run started reading
    until: datetime  # the run's start: tickets created later are not this walk's
    resumed: bool  # this run continued a walk an earlier run started
    dry_run: bool = False
    pages: int = 0  # search requests
    found: int = 0  # tickets read (open and closed)
    enqueued: int = 0  # new adopt events (dry-run: that would be stored)
    already_tracked: int = 0  # open tickets the service already tracks
    already_adopted: int = 0  # open tickets an earlier run enqueued (not applied yet)
    closed: int = 0  # skipped
    quarantined: int = 0  # tickets whose object cannot be an event (stored quarantined)
    by_priority: Counter[str] = field(default_factory=Counter)  # of the enqueued ones
    by_status: Counter[str] = field(default_factory=Counter)
    cursor: datetime | None = None  # where the next run resumes (None: dry-run)
    complete: bool = False  # the walk read every ticket created up to `until`
    limited: bool = False  # stopped at `limit`
    stopped: str = ""  # why the run stopped before it was done ("" when it was not)
    unreachable: list[str] = field(default_factory=list)  # instants the search cannot page


def adopt_open_tickets(
    container: Container,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    keep_credits: int = 0,
    dry_run: bool = False,
) -> AdoptResult:
    """Walk the portal's tickets by creation time and enqueue the open untracked ones (see the
    module's docstring). `limit`: read at most that many tickets (open or closed) this run.
    `keep_credits`: stop once Zoho reports fewer API credits left today (0: never)."""
    desk = container.desk
    if desk is None:
        raise RuntimeError("adopt needs Zoho credentials (live mode)")
    now = container.clock()
    walk_from, start, resumed = _plan(container, since, now, dry_run)
    result = AdoptResult(walk_from, start, now, resumed, dry_run=dry_run)
    result.cursor = None if dry_run else start
    # Less a millisecond: whether Zoho's lower bound is inclusive or not, the ticket(s) at the
    # cursor are read again (and not enqueued twice).
    tickets = desk.search_created_tickets(max(start - _MS, EARLIEST), now, page_size=PAGE_SIZE)
    closed_statuses = _ClosedStatuses(desk.statuses)
    read: list[dict[str, Any]] = []
    try:
        try:
            for ticket in tickets:
                read.append(ticket)
                result.found += 1
                if len(read) == PAGE_SIZE:
                    _save(container, result, read, closed_statuses, complete=False)
                    read = []
                    low = _credits_low(desk, keep_credits)
                    if low:
                        result.stopped = low
                        break
                if limit is not None and result.found >= limit:
                    result.limited = True
                    break
            else:
                result.complete = True
        except WAIT_FOR_ZOHO as exc:
            result.stopped = f"waiting for Zoho: {exc}"
        except RetryableError as exc:
            result.stopped = f"Zoho unavailable: {exc}"
        except ZohoError as exc:  # e.g. a missing Desk.search.READ scope
            result.stopped = f"Zoho refused the search: {exc}"
        _save(container, result, read, closed_statuses, complete=result.complete)
    finally:
        result.pages = getattr(tickets, "requests", 0)
        for low, high in getattr(tickets, "crowded", []):
            result.unreachable.append(f"created {zoho_time(low)}..{zoho_time(high)}")
    if result.stopped:
        log.warning("adopt stopped: %s; the next run resumes from its cursor", result.stopped)
    if result.enqueued and not dry_run:
        container.wake_worker()
    return result


def _plan(
    container: Container, since: datetime | None, now: datetime, dry_run: bool
) -> tuple[datetime, datetime, bool]:
    """(where the walk started, where this run starts, whether it continues a walk)."""
    with db.transaction(container.sessions) as session:
        position = session.get(Cursor, CURSOR)
        origin = session.get(Cursor, CURSOR_FROM)
        if (
            position is not None
            and origin is not None
            and (since is None or origin.at <= since <= position.at)
        ):
            return origin.at, position.at, True
        begin = since or EARLIEST
        if not dry_run:
            for name in (CURSOR_FROM, CURSOR):
                _put(session, name, begin, now)
        return begin, begin, False


def _put(session: Session, name: str, at: datetime, now: datetime) -> None:
    insert = db.insert_for(session.get_bind().dialect.name)
    session.execute(
        insert(Cursor)
        .values(name=name, at=at, updated_at=now)
        .on_conflict_do_update(index_elements=["name"], set_={"at": at, "updated_at": now})
    )


class _ClosedStatuses:
    """Whether a ticket is closed: its `statusType`, or when the search left it out, the type
    of its status in the portal's status list (asked once, only then)."""

    def __init__(self, statuses: Callable[[], list[dict[str, str]]]) -> None:
        self._statuses = statuses
        self._closed: set[str] | None = None

    def __call__(self, ticket: dict[str, Any]) -> bool:
        status_type = str(ticket.get("statusType") or "").strip().lower()
        if status_type:
            return status_type == CLOSED
        if self._closed is None:
            self._closed = {
                s["value"].strip().lower()
                for s in self._statuses()
                if s.get("statusType", "").strip().lower() == CLOSED
            }
        return str(ticket.get("status") or "").strip().lower() in self._closed


def _credits_low(desk: Any, keep: int) -> str:
    """Why to stop for the credit reserve ("" to go on): Zoho's last word on the credits left."""
    gauge = getattr(desk, "gauge", None)
    remaining = getattr(gauge, "remaining", None)
    if keep <= 0 or remaining is None or remaining >= keep:
        return ""
    return (
        f"Zoho reports {remaining} API credits left today, fewer than the {keep} kept for the "
        "service's own calls"
    )


def _save(
    container: Container,
    result: AdoptResult,
    tickets: Sequence[dict[str, Any]],
    closed: _ClosedStatuses,
    *,
    complete: bool,
) -> None:
    """Enqueue the open untracked tickets read and move the cursor past them, in one
    transaction (dry-run: count only). `complete`: the walk is read to its end."""
    now = container.clock()
    with db.transaction(container.sessions) as session:
        ids = {str(t.get("id")) for t in tickets}
        tracked = set(
            session.scalars(select(TrackedTicket.ticket_id).where(TrackedTicket.ticket_id.in_(ids)))
        )
        candidates = []
        for ticket in tickets:
            if closed(ticket):
                result.closed += 1
            elif str(ticket.get("id")) in tracked:
                result.already_tracked += 1
            else:
                candidates.append(ticket)
        events = _events(container, candidates)
        known = set(
            session.scalars(
                select(InboxEvent.dedupe_key).where(
                    InboxEvent.dedupe_key.in_([e.dedupe_key() for e in events])
                )
            )
        )
        for event, ticket in zip(events, candidates, strict=True):
            if event.dedupe_key() in known:
                result.already_adopted += 1
                continue
            if not result.dry_run and not store_returning_ids(
                session, [event], source=SOURCE, now=now
            ):
                result.already_adopted += 1  # another run stored it a moment ago
                continue
            if event.quarantined:
                result.quarantined += 1
                continue
            result.enqueued += 1
            result.by_priority[_priority_label(container.policy, ticket)] += 1
            result.by_status[str(ticket.get("status") or "-")] += 1
        if result.dry_run:
            return
        if complete:
            reached: datetime | None = result.until
        else:
            created = [parse_zoho_time(t.get("createdTime")) for t in tickets]
            reached = max((c for c in created if c is not None), default=None)
        position = session.get(Cursor, CURSOR, with_for_update=True)
        assert position is not None  # written by _plan
        if reached is not None and reached > position.at:
            position.at = min(reached, result.until)
            position.updated_at = now
        result.cursor = position.at


def _events(container: Container, tickets: Sequence[dict[str, Any]]) -> list[ParsedEvent]:
    """One `Ticket_Update` per ticket, parsed and validated as a delivery is, each known by
    `adopt:<ticket id>`. Not a `Ticket_Add`: the ticket was not created now."""
    delivery = [
        {
            "eventType": "Ticket_Update",
            "orgId": container.settings.zoho_org_id,
            "payload": ticket,
            **({"eventTime": ticket["modifiedTime"]} if ticket.get("modifiedTime") else {}),
        }
        for ticket in tickets
    ]
    events = parse_delivery(
        json.dumps(delivery).encode(),
        container.policy.fields,
        payload_is_history=not container.live,
        quarantine=True,
    )
    return [e if e.quarantined else replace(e, key=dedupe_key(e.ticket_id)) for e in events]


def _priority_label(policy: Policy, ticket: dict[str, Any]) -> str:
    found = policy.find_priority(str(ticket.get("priority") or ""))
    return found.key if found is not None else NO_PRIORITY_LABEL


def adoption_note(
    policy: Policy,
    snapshot: dict[str, Any],
    *,
    priority: str,
    kept: bool,
    responded: datetime | None,
    threads_read: bool,
) -> tuple[str, dict[str, Any]]:
    """The audit entry of an adopted ticket: what its deadlines were computed from, and what
    could not be known (Zoho's ticket shows its present state, not its past)."""
    created = parse_zoho_time(snapshot.get("createdTime"))
    used = [
        f"priority {priority} as it stands (not reclassified)"
        if kept
        else f"priority {priority} classified (the ticket had none)",
        f"deadlines from its creation ({_show(created)})",
    ]
    if not threads_read:
        used.append("first response not known (no threads read)")
    elif responded is not None:
        used.append(f"first response {_show(responded)} from the threads")
    else:
        used.append("no agent reply in the threads yet")
    hold_since: datetime | None = None
    current = observe(snapshot, "fetch", policy)
    reason = _stop_reason(policy, current) if current is not None else ""
    if current is not None and reason and reason != CLOSED:
        onhold = current.onhold_time
        if onhold is not None and onhold <= current.modified_time:
            hold_since = onhold
            used.append(f"on hold ({reason}) since {_show(onhold)} (its onholdTime)")
        else:
            hold_since = current.modified_time
            used.append(
                f"on hold ({reason}) since its last change {_show(hold_since)} "
                "(Zoho gave no onholdTime: the hold may be longer)"
            )
    else:
        used.append("not on hold now")
    text = (
        "open before the service tracked it: "
        + "; ".join(used)
        + ". Not known: "
        + ", ".join(NOT_KNOWN)
        + " (Zoho shows the ticket's present state only: earlier time is counted as if it had "
        "never been on hold and always had this priority)"
    )
    data = {
        "created": _show(created),
        "priority": priority,
        "priority_kept": kept,
        "first_response": _show(responded) if responded else None,
        "threads_read": threads_read,
        "hold_since": _show(hold_since) if hold_since else None,
        "not_known": list(NOT_KNOWN),
    }
    return text, data


def _show(moment: datetime | None) -> str:
    return zoho_time(moment) if moment is not None else "-"
