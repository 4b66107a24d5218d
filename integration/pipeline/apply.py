"""Step 3: apply claimed events to the tickets' SLA state.

Each event is applied in its own transaction, Zoho's state fetched first (no I/O inside the
transaction). In live mode the payload only says which ticket to look at: the JWT does not cover
the body, so only Zoho's fetched state (and the answers to our own PATCHes) enter the history.
In dry-run there is no Zoho to ask, and the payload and `prevState` are the history.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from .. import db
from ..models import InboxEvent
from ..rules import Classification
from ..zoho import RetryableError, TokenEndpointBusy, Unauthorized, ZohoError
from . import claim
from .adopt import adoption_note
from .authenticate import exc_name
from .fetch import Fetched, RecentReads, fetch, needs_threads, prefetch
from .fields import only_our_fields_changed
from .inbox import HANDLED_EVENTS, THREAD_EVENTS
from .ledger import ADOPT_SOURCE
from .observe import Observation, first_agent_response, observe, parse_zoho_time
from .step import WAIT_FOR_ZOHO, Step
from .write import OutboxWriter

log = logging.getLogger(__name__)

# Failures that no retry can cure: the event itself cannot be applied. It is quarantined at
# once, with its reason, and never blocks the ticket's later events.
POISON = (ValueError, TypeError, LookupError, AttributeError, DataError)


class RetryLater(Exception):
    """This event cannot be applied yet (e.g. a thread before its ticket); retry with backoff."""


@dataclass
class Read:
    """An event's body, and in live mode Zoho's state of its ticket read for it."""

    body: dict[str, Any]
    fetched: dict[str, Any] | None = None
    threads: list[dict[str, Any]] | None = None
    gone: bool = False  # Zoho answers 404 for the ticket (or a dry-run Ticket_Delete)


@dataclass(frozen=True)
class Outcome:
    decision: str | None  # None: an event type we ignore
    status: str  # the inbox row's final status
    note: str = ""  # its last_error: stale | echo


class EventApplier(Step):
    writer: OutboxWriter | None = None  # settles dry-run writes within a batch
    recent: RecentReads | None = None  # the batch's reads, offered to the write step

    def process(self) -> int:
        """One round: claim a batch of due events and apply each. Returns how many."""
        with db.transaction(self.c.sessions) as session:
            events = claim.claim(
                session,
                InboxEvent,
                owner=self.owner,
                now=self.c.clock(),
                lease=timedelta(seconds=self.settings.worker_lease_s),
                limit=self.settings.worker_batch,
                order_by=[InboxEvent.id],
                where=self.scoped(InboxEvent),
            )
        # A batch is applied in the order of the tickets' own times (the log makes any order
        # give the same deadlines; this order just skips fewer stale snapshots).
        events.sort(key=lambda r: (r.modified_time or r.received_at, r.id))
        fetched: dict[str, Fetched] = {}
        if self.c.desk is not None and self.executor is not None:
            fetched = prefetch(self.c.desk, events, self.executor)  # Zoho's reads, concurrently
            if self.recent is not None:
                for ticket_id, read in fetched.items():
                    if read.ticket is not None and read.error is None:
                        self.recent.put(ticket_id, read.ticket)
        if len(events) > 1:
            try:
                self.apply_batch(events, fetched)
                return len(events)
            except Exception as exc:  # one event's problem: each is applied on its own
                log.info("batch of %d events applied one by one (%s)", len(events), exc_name(exc))
        for event in events:
            self.process_one(event, fetched.get(event.ticket_id))
        return len(events)

    def apply_batch(
        self, events: list[InboxEvent], fetched: dict[str, Fetched] | None = None
    ) -> None:
        """Every event of a claimed batch in one transaction: the tickets' rows read and locked
        in a few set-based statements (`Ledger.begin_batch`), new observations and audit
        entries inserted together, the inbox rows ended by one UPDATE per outcome, and in
        dry-run the decisions "written" at once. Any failure rolls the whole batch back; the
        caller then applies each event on its own, with the per-event handling of failures."""
        fetched = fetched or {}
        reads = [self._read(event, fetched.get(event.ticket_id)) for event in events]
        outcomes: list[Outcome] = []
        applied: list[InboxEvent] = []
        later: list[InboxEvent] = []  # not applicable yet: settled on their own afterwards
        with db.transaction(self.c.sessions) as session:
            session.autoflush = False  # nothing is read back from the database mid-batch
            handled = {e.ticket_id for e in events if e.event_type in HANDLED_EVENTS}
            batch = self.ledger.begin_batch(session, handled)
            try:
                for event, read in zip(events, reads, strict=True):
                    try:
                        outcomes.append(self._apply_in(session, event, read))
                        applied.append(event)
                    except RetryLater:  # raised before the event changed anything
                        later.append(event)
                if not self.c.live and self.writer is not None:
                    for ticket_id, row in batch.outbox.items():
                        if row.status == claim.PENDING:
                            self.writer.settle_dry_run(session, batch.tickets.get(ticket_id), row)
                self.ledger.end_batch(session)
            finally:
                self.ledger.batch = None
            groups: dict[tuple[str, str], list[int]] = {}
            for event, outcome in zip(applied, outcomes, strict=True):
                groups.setdefault((outcome.status, outcome.note), []).append(event.id)
            now = self.c.clock()
            for (status, note), ids in groups.items():
                ended = session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.id.in_(ids), InboxEvent.lease_owner == self.owner)
                    .values(
                        status=status,
                        processed_at=now,
                        last_error=note,
                        lease_owner=None,
                        lease_until=None,
                    )
                )
                if ended.rowcount != len(ids):  # type: ignore[attr-defined]
                    raise claim.LeaseLost(ids)
        for event, outcome in zip(applied, outcomes, strict=True):
            if outcome.decision is not None:
                self._applied(event, outcome.decision)
        for event in later:
            self.process_one(event, fetched.get(event.ticket_id))

    def process_one(self, event: InboxEvent, fetched: Fetched | None = None) -> None:
        """Apply one event in its own transaction; `fetched`: Zoho's state read for it since it
        was received (live), else it is read here."""
        try:
            self.apply(event, fetched)
        except claim.LeaseLost:
            log.warning("event %s: lease lost to another worker; its work stands", event.id)
        except WAIT_FOR_ZOHO as exc:
            self.wait(event, exc)
        except (RetryLater, RetryableError, TokenEndpointBusy, Unauthorized, IntegrityError) as exc:
            # Unauthorized: the token refused again right after a refresh (an authentication
            # race between processes): retried, never a reason to quarantine the event.
            self.settle(event, error=f"{type(exc).__name__}: {exc}")
        except OperationalError as exc:  # the database went away mid-event: try again later
            self.settle(event, error=f"database unavailable: {db.describe_error(exc)}")
        except ZohoError as exc:  # a 4xx other than 404/429: this event cannot be applied
            self.settle(event, error=f"Zoho refused: {exc}", final="quarantined")
        except POISON as exc:
            log.exception("event %s (%s) quarantined", event.id, event.event_type)
            self.settle(event, error=f"{type(exc).__name__}: {exc}", final="quarantined")
        except Exception as exc:
            log.exception("event %s (%s) failed", event.id, event.event_type)
            self.settle(event, error=f"{type(exc).__name__}: {exc}")

    def _finish(self, session: Any, event: InboxEvent, status: str, note: str = "") -> None:
        ended = claim.end(
            session,
            InboxEvent,
            event.id,
            owner=self.owner,
            status=status,
            processed_at=self.c.clock(),
            last_error=note,
        )
        if not ended:  # our lease expired and another worker took the event: roll back ours
            raise claim.LeaseLost(event.id)

    def apply(self, event: InboxEvent, fetched: Fetched | None = None) -> None:
        decision = self._apply(event, fetched)
        if decision is not None:
            self._applied(event, decision)

    def _apply(self, event: InboxEvent, fetched: Fetched | None = None) -> str | None:
        """Apply one event in its own transaction; its decision once committed (None: an
        event type we ignore)."""
        read = self._read(event, fetched)
        with db.transaction(self.c.sessions) as session:
            outcome = self._apply_in(session, event, read)
            self._finish(session, event, outcome.status, outcome.note)
        return outcome.decision

    def _read(self, event: InboxEvent, prefetched: Fetched | None = None) -> Read:
        """What Zoho says of the event's ticket (live): `prefetched` for the batch, or fetched
        here, before any transaction. Even a Ticket_Delete is checked (a forged one must not
        stop the tracking); the threads too on a thread event, a polled change or an adopted
        ticket (`fetch.needs_threads`)."""
        read = Read(body=json.loads(event.body))
        if event.event_type not in HANDLED_EVENTS or not self.c.live:
            read.gone = event.event_type == "Ticket_Delete"
            return read
        if prefetched is None:
            assert self.c.desk is not None
            prefetched = fetch(self.c.desk, event.ticket_id, threads=needs_threads(event))
        read.fetched, read.gone, read.threads = prefetched.for_event(event)
        return read

    def _apply_in(self, session: Any, event: InboxEvent, read: Read) -> Outcome:
        """The event applied inside the caller's transaction (which also ends the inbox row)."""
        event_type = event.event_type
        if event_type not in HANDLED_EVENTS:
            return Outcome(None, "ignored")
        body = read.body
        payload: dict[str, Any] = body.get("payload") or {}
        prev_state = body.get("prevState") if isinstance(body.get("prevState"), dict) else None
        ticket_id = event.ticket_id
        live = self.c.live
        fetched, threads = read.fetched, read.threads

        ticket = self.ledger.lock(session, ticket_id)
        if read.gone:
            self.ledger.stop_tracking(session, ticket, ticket_id)
            return Outcome("ticket deleted in Zoho: tracking stopped", "done")
        unsigned = payload if event_type not in THREAD_EVENTS else None
        snapshot = fetched if live else unsigned
        adopted: Classification | None = None
        if ticket is None:
            if snapshot is None:
                raise RetryLater(f"ticket {ticket_id} not known yet (waiting for Ticket_Add)")
            if event_type != "Ticket_Add" and self._add_waiting(session, event):
                # Its Ticket_Add is still to be applied (a failed fetch is being retried): it
                # goes first, so the ticket is classified as if every event came in order.
                raise RetryLater(f"ticket {ticket_id}: its Ticket_Add is still in the inbox")
            ticket, classified = self.ledger.start_tracking(session, ticket_id, snapshot, event)
            if event.source == ADOPT_SOURCE:
                adopted = classified  # None: another worker started tracking it first

        observations: list[Observation | None] = []
        if live:
            observations.append(observe(fetched or {}, "fetch", self.c.policy))
        else:
            if event_type not in THREAD_EVENTS:
                observations.append(observe(payload, "webhook", self.c.policy))
            if prev_state is not None:
                observations.append(observe(prev_state, "prev_state", self.c.policy))
        self.ledger.record(session, ticket_id, [o for o in observations if o is not None])

        if live:
            responded = first_agent_response(threads or [])
        else:
            responded = first_agent_response([payload] if event_type in THREAD_EVENTS else [])
        if responded is not None and (
            ticket.first_response_at is None or responded < ticket.first_response_at
        ):
            ticket.first_response_at = responded
        if adopted is not None and snapshot is not None:
            self._adopted(session, ticket, snapshot, adopted, responded, threads is not None)

        stale = False
        if snapshot is not None:
            modified = parse_zoho_time(snapshot.get("modifiedTime"))
            if modified is not None and (
                ticket.last_modified_time is None or modified >= ticket.last_modified_time
            ):
                ticket.last_modified_time = modified
                ticket.zoho_status = str(snapshot.get("status") or "")[:64]
                ticket.zoho_status_type = str(snapshot.get("statusType") or "")[:16]
            else:
                stale = True

        echo = event_type == "Ticket_Update" and self._is_echo(
            session, ticket_id, payload, prev_state
        )
        decision = self.ledger.recompute(session, ticket, snapshot)
        reason = decision
        if stale:
            reason = f"stale event (older than the ticket's state): history kept; {decision}"
        if echo:
            reason = f"echo of our own write; {decision}"
        self.ledger.audit(session, ticket_id, event_type, reason, {"event": event.id})
        return Outcome(reason, "done", "stale" if stale else ("echo" if echo else ""))

    def _add_waiting(self, session: Any, event: InboxEvent) -> bool:
        """Whether the ticket's Ticket_Add is in the inbox, not applied yet (pending, or
        being applied by another worker)."""
        waiting = session.scalar(
            select(InboxEvent.id)
            .where(
                InboxEvent.ticket_id == event.ticket_id,
                InboxEvent.event_type == "Ticket_Add",
                InboxEvent.status.in_([claim.PENDING, claim.PROCESSING]),
                InboxEvent.id != event.id,
            )
            .limit(1)
        )
        return waiting is not None

    def _adopted(
        self,
        session: Any,
        ticket: Any,
        snapshot: dict[str, Any],
        classification: Classification,
        responded: Any,
        threads_read: bool,
    ) -> None:
        """The audit of an adopted ticket: what its deadlines come from, what is not known."""
        kept = self.c.policy.find_priority(str(snapshot.get("priority") or "")) is not None
        reason, data = adoption_note(
            self.c.policy,
            snapshot,
            priority=classification.priority,
            kept=kept,
            responded=responded,
            threads_read=threads_read,
        )
        self.ledger.audit(session, ticket.ticket_id, "adopted", reason, data)

    def _applied(self, event: InboxEvent, decision: str) -> None:
        """One INFO line per applied event: ids and the decision, never the event's body."""
        log.info(
            "applied %s to ticket %s: %s",
            event.event_type,
            event.ticket_id,
            decision,
            extra={
                "ticket_id": event.ticket_id,
                "event": event.event_type,
                "event_id": event.id,
                "decision": decision,
            },
        )

    def _is_echo(
        self,
        session: Any,
        ticket_id: str,
        payload: dict[str, Any],
        prev_state: dict[str, Any] | None,
    ) -> bool:
        """Whether an update is Zoho telling us of our own write (it only changes the audit
        text: deadlines never depend on it). `sent`: its modifiedTime is the one of an answer
        to our PATCH; `fields`: between prevState and payload only our fields changed."""
        modes = self.settings.echo_detection
        modified = parse_zoho_time(payload.get("modifiedTime"))
        if "sent" in modes and self.ledger.is_our_write(session, ticket_id, modified):
            return True
        if "fields" in modes and prev_state is not None:
            return only_our_fields_changed(payload, prev_state, self.c.policy)
        return False
