"""Step 3: apply claimed events to the tickets' SLA state.

Each event is applied in its own transaction, Zoho's state fetched first (no I/O inside the
transaction). In live mode the payload only says which ticket to look at: the JWT does not cover
the body, so only Zoho's fetched state (and the answers to our own PATCHes) enter the history.
In dry-run there is no Zoho to ask, and the payload and `prevState` are the history.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from .. import db
from ..models import InboxEvent
from ..zoho import RetryableError, TokenEndpointBusy, ZohoError
from . import claim
from .fetch import Fetched, fetch, needs_threads, prefetch
from .fields import only_our_fields_changed
from .inbox import HANDLED_EVENTS, THREAD_EVENTS
from .observe import Observation, first_agent_response, observe, parse_zoho_time
from .step import WAIT_FOR_ZOHO, Step

log = logging.getLogger(__name__)

# Failures that no retry can cure: the event itself cannot be applied. It is quarantined at
# once, with its reason, and never blocks the ticket's later events.
POISON = (ValueError, TypeError, LookupError, AttributeError, DataError)


class RetryLater(Exception):
    """This event cannot be applied yet (e.g. a thread before its ticket); retry with backoff."""


class EventApplier(Step):
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
        for event in events:
            self.process_one(event, fetched.get(event.ticket_id))
        return len(events)

    def process_one(self, event: InboxEvent, fetched: Fetched | None = None) -> None:
        """Apply one event; `fetched`: Zoho's state read for it since it was received (live),
        else it is read here."""
        try:
            self.apply(event, fetched)
        except claim.LeaseLost:
            log.warning("event %s: lease lost to another worker; its work stands", event.id)
        except WAIT_FOR_ZOHO as exc:
            self.wait(event, exc)
        except (RetryLater, RetryableError, TokenEndpointBusy, IntegrityError) as exc:
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

    def apply(self, event: InboxEvent, prefetched: Fetched | None = None) -> None:
        decision = self._apply(event, prefetched)
        if decision is not None:
            self._applied(event, decision)

    def _apply(self, event: InboxEvent, prefetched: Fetched | None = None) -> str | None:
        """Apply one event; its decision once committed (None: an event type we ignore).
        `prefetched`: Zoho's state fetched for it (live); without it, it is fetched here."""
        body = json.loads(event.body)
        event_type = event.event_type
        if event_type not in HANDLED_EVENTS:
            with db.transaction(self.c.sessions) as session:
                self._finish(session, event, "ignored")
            return None
        payload: dict[str, Any] = body.get("payload") or {}
        prev_state = body.get("prevState") if isinstance(body.get("prevState"), dict) else None
        ticket_id = event.ticket_id
        live = self.c.live

        fetched: dict[str, Any] | None = None
        threads: list[dict[str, Any]] | None = None
        gone = event_type == "Ticket_Delete"
        if live:
            # Even a Ticket_Delete is checked (a forged one must not stop the tracking); the
            # threads too on a thread event or a polled change (`fetch.needs_threads`).
            if prefetched is None:
                assert self.c.desk is not None
                prefetched = fetch(self.c.desk, ticket_id, threads=needs_threads(event))
            fetched, gone, threads = prefetched.for_event(event)

        with db.transaction(self.c.sessions) as session:
            ticket = self.ledger.lock(session, ticket_id)
            if gone:
                self.ledger.stop_tracking(session, ticket, ticket_id)
                self._finish(session, event, "done")
                return "ticket deleted in Zoho: tracking stopped"
            unsigned = payload if event_type not in THREAD_EVENTS else None
            snapshot = fetched if live else unsigned
            if ticket is None:
                if snapshot is None:
                    raise RetryLater(f"ticket {ticket_id} not known yet (waiting for Ticket_Add)")
                ticket, _ = self.ledger.start_tracking(session, ticket_id, snapshot, event)

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
            self._finish(session, event, "done", "stale" if stale else ("echo" if echo else ""))
            return reason

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
