"""The worker: applies inbox events to the SLA state and writes the results back to Zoho.

Each round claims a batch of events (one statement, under a lease) and applies each in its own
transaction: Zoho's state is fetched first, then the ticket's ledger (`ledger.py`) appends the
observations, recomputes the deadlines from the whole log and coalesces the values Zoho should
show into the ticket's single outbox row. A second step claims
outbox rows and PATCHes only the fields whose value differs. Every step is safe to run twice, so a
killed worker's rows are simply claimed again when its lease expires.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from .. import db
from ..container import Container
from ..models import (
    InboxEvent,
    OutboxWrite,
    ProcessHeartbeat,
)
from ..zoho import (
    CallsPaused,
    CreditsExhausted,
    NotFound,
    ReauthorizationRequired,
    RetryableError,
    TokenEndpointBusy,
    ZohoError,
)
from . import claim as queue
from .fields import (
    merge_fields,
    only_our_fields_changed,
)
from .inbox import HANDLED_EVENTS, THREAD_EVENTS
from .ledger import Ledger, as_json
from .observe import (
    Observation,
    first_agent_response,
    observe,
    parse_zoho_time,
)

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)

# Zoho unreachable for a reason that time fixes: try again later without spending an attempt.
WAIT_FOR_ZOHO = (CallsPaused, CreditsExhausted, ReauthorizationRequired, TokenEndpointBusy)


class RetryLater(Exception):
    """This event cannot be applied yet (e.g. a thread before its ticket); retry with backoff."""


@dataclass
class RoundResult:
    events: int = 0
    writes: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.events or self.writes)


class Worker:
    def __init__(self, container: Container, name: str = "worker") -> None:
        self.c = container
        self.settings = container.settings
        self.policy = container.policy
        self.name = name
        self.owner = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=self.settings.worker_lease_s)
        self._beat_at: datetime | None = None
        self.ledger = Ledger(
            self.policy,
            container.clock,
            live=container.live,
            classify_window_s=self.settings.classify_window_s,
        )

    # ---- loop -------------------------------------------------------------------------------

    def run_once(self) -> RoundResult:
        result = RoundResult(events=self.process_events(), writes=self.process_outbox())
        now = self.c.clock()
        if self._beat_at is None or now - self._beat_at >= HEARTBEAT_EVERY:
            self.heartbeat()
            self._beat_at = now
        return result

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Rounds until nothing is due (tests, replays). Returns the rounds run."""
        for rounds in range(1, max_rounds + 1):
            if not self.run_once().busy:
                return rounds
        return max_rounds

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s started (write-back %s)", self.owner, self.settings.write_back_mode)
        failures = 0
        while not stop.is_set():
            wait = self.settings.worker_poll_s
            try:
                busy = self.run_once().busy
                if failures:
                    log.info("worker recovered after %d failed round(s)", failures)
                failures = 0
            except DBAPIError as exc:  # the database is down: one line, back off, go on
                failures += 1
                wait = min(self.settings.worker_poll_s * 2**failures, 30.0)
                log.warning(
                    "worker round failed, database unavailable (%s); retry in %.1f s",
                    type(exc.orig).__name__,
                    wait,
                )
                busy = False
            except Exception:
                failures += 1
                wait = min(self.settings.worker_poll_s * 2**failures, 30.0)
                log.exception("worker round failed; retry in %.1f s", wait)
                busy = False
            if not busy:
                self.c.work_available.wait(wait)
                self.c.work_available.clear()
        log.info("worker %s stopped", self.owner)

    def heartbeat(self) -> None:
        now = self.c.clock()
        insert = db.insert_for(self.c.engine.dialect.name)
        statement = insert(ProcessHeartbeat).values(name=self.name, beat_at=now, detail=self.owner)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"beat_at": now, "detail": self.owner}
        )
        with db.transaction(self.c.sessions) as session:
            session.execute(statement)

    def _backoff(self, attempts: int) -> timedelta:
        seconds = self.settings.worker_backoff_s * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(seconds, self.settings.worker_backoff_max_s))

    # ---- events -----------------------------------------------------------------------------

    def process_events(self) -> int:
        with db.transaction(self.c.sessions) as session:
            events = queue.claim(
                session,
                InboxEvent,
                owner=self.owner,
                now=self.c.clock(),
                lease=self.lease,
                limit=self.settings.worker_batch,
                order_by=[InboxEvent.id],
            )
        # A batch is applied in the order of the tickets' own times (the log makes any order
        # give the same deadlines; this order just skips fewer stale snapshots).
        events.sort(key=lambda r: (r.modified_time or r.received_at, r.id))
        for event in events:
            self._process_event(event)
        return len(events)

    def _process_event(self, event: InboxEvent) -> None:
        try:
            self.apply(event)
        except WAIT_FOR_ZOHO as exc:
            self._settle(event, error=str(exc), retry_at=self._resume_at(exc), count_attempt=False)
        except (RetryLater, RetryableError, IntegrityError) as exc:
            self._settle(event, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("event %s (%s) failed", event.id, event.event_type)
            self._settle(event, error=f"{type(exc).__name__}: {exc}")

    def _resume_at(self, exc: Exception) -> datetime:
        """When to try again after Zoho said "not now" (credits spent, re-authorisation)."""
        return getattr(exc, "resume_at", None) or self.c.clock() + self._backoff(3)

    def _settle(
        self,
        row: InboxEvent | OutboxWrite,
        *,
        error: str,
        retry_at: datetime | None = None,
        final: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """After a failed try: back to the queue with a backoff, or a final state once the
        attempts are spent (or at once when `final` says so). Failures stay visible."""
        model = type(row)
        key = row.id if isinstance(row, InboxEvent) else row.ticket_id
        if final is None and count_attempt and row.attempts >= self.settings.worker_max_attempts:
            final = "failed"
        with db.transaction(self.c.sessions) as session:
            if final is None:
                when = retry_at or self.c.clock() + self._backoff(row.attempts)
                queue.release(
                    session,
                    model,
                    key,
                    owner=self.owner,
                    available_at=when,
                    error=error,
                    count_attempt=count_attempt,
                )
                return
            log.error(
                "%s %s %s after %d attempt(s): %s",
                model.__tablename__,
                key,
                final,
                row.attempts,
                error,
            )
            queue.end(session, model, key, owner=self.owner, status=final, last_error=error)
            if isinstance(row, OutboxWrite):
                self.ledger.audit(session, row.ticket_id, f"write-{final}", error, {})

    def _finish(self, session: Session, event: InboxEvent, status: str, note: str = "") -> None:
        queue.end(
            session,
            InboxEvent,
            event.id,
            owner=self.owner,
            status=status,
            processed_at=self.c.clock(),
            last_error=note,
        )

    def apply(self, event: InboxEvent) -> None:
        body = json.loads(event.body)
        event_type = event.event_type
        if event_type not in HANDLED_EVENTS:
            with db.transaction(self.c.sessions) as session:
                self._finish(session, event, "ignored")
            return
        payload: dict[str, Any] = body.get("payload") or {}
        prev_state = body.get("prevState") if isinstance(body.get("prevState"), dict) else None
        ticket_id = event.ticket_id

        fetched: dict[str, Any] | None = None
        threads: list[dict[str, Any]] | None = None
        gone = event_type == "Ticket_Delete"
        if self.c.live and not gone:
            # The payload is a hint (the JWT does not cover the body): act on Zoho's own state.
            try:
                fetched = self.c.desk.get_ticket(ticket_id)
            except NotFound:
                gone = True
            if fetched is not None and event_type in THREAD_EVENTS:
                threads = self.c.desk.list_threads(ticket_id)

        our_agent = self.c.our_agent_id()  # asked before the transaction: no I/O inside it
        with db.transaction(self.c.sessions) as session:
            ticket = self.ledger.lock(session, ticket_id)
            if gone:
                self.ledger.stop_tracking(session, ticket, ticket_id)
                self._finish(session, event, "done")
                return
            snapshot = (
                fetched
                if fetched is not None
                else (payload if event_type not in THREAD_EVENTS else None)
            )
            classification = None
            if ticket is None:
                if snapshot is None:
                    raise RetryLater(f"ticket {ticket_id} not known yet (waiting for Ticket_Add)")
                ticket, classification = self.ledger.start_tracking(
                    session, ticket_id, snapshot, event
                )

            observations: list[Observation | None] = []
            if event_type not in THREAD_EVENTS:
                observations.append(observe(payload, "webhook", self.policy))
            if prev_state is not None:
                observations.append(observe(prev_state, "prev_state", self.policy))
            if fetched is not None:
                observations.append(observe(fetched, "fetch", self.policy))
            self.ledger.record(session, ticket_id, [o for o in observations if o is not None])

            responded = first_agent_response(
                threads
                if threads is not None
                else ([payload] if event_type in THREAD_EVENTS else [])
            )
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

            echo = event_type == "Ticket_Update" and self._is_echo(payload, prev_state, our_agent)
            current = snapshot if snapshot is not None else {}
            decision = self.ledger.recompute(session, ticket, current, our_agent, classification)
            reason = decision
            if stale:
                reason = f"stale event (older than the ticket's state): history kept; {decision}"
            if echo:
                reason = f"echo of our own write; {decision}"
            self.ledger.audit(session, ticket_id, event_type, reason, {"event": event.id})
            self._finish(session, event, "done", "stale" if stale else ("echo" if echo else ""))

    def _is_echo(
        self, payload: dict[str, Any], prev_state: dict[str, Any] | None, our_agent: str
    ) -> bool:
        modes = {m.strip() for m in self.settings.echo_detection.split(",")}
        if "agent" in modes and our_agent and str(payload.get("modifiedBy") or "") == our_agent:
            return True
        if "fields" in modes and prev_state is not None:
            return only_our_fields_changed(payload, prev_state, self.policy)
        return False

    # ---- outbox -----------------------------------------------------------------------------

    def process_outbox(self) -> int:
        with db.transaction(self.c.sessions) as session:
            rows = queue.claim(
                session,
                OutboxWrite,
                owner=self.owner,
                now=self.c.clock(),
                lease=self.lease,
                limit=self.settings.worker_batch,
                order_by=[OutboxWrite.available_at],
            )
        for row in rows:
            self._send(row)
        return len(rows)

    def _send(self, row: OutboxWrite) -> None:
        fields = json.loads(row.fields)
        if not self.c.live:
            self._sent(row, fields, None, dry_run=True)
            return
        try:
            answer = self.c.desk.update_ticket(row.ticket_id, fields) if fields else None
            if answer is not None:
                with db.transaction(self.c.sessions) as session:
                    obs = observe(answer, "write", self.policy)
                    if obs is not None:
                        self.ledger.record(session, row.ticket_id, [obs])
            if row.comment and not self._comment_already_posted(row):
                self.c.desk.add_comment(row.ticket_id, row.comment, public=False)
        except WAIT_FOR_ZOHO as exc:
            self._settle(row, error=str(exc), retry_at=self._resume_at(exc), count_attempt=False)
            return
        except NotFound:
            self._settle(row, error="ticket no longer exists in Zoho", final="cancelled")
            return
        except RetryableError as exc:
            self._settle(row, error=str(exc))
            return
        except ZohoError as exc:  # a 4xx other than 429: retrying cannot help
            self._settle(row, error=str(exc), final="failed")
            return
        self._sent(row, fields, answer, dry_run=False)

    def _comment_already_posted(self, row: OutboxWrite) -> bool:
        """On a retried write, the comment may have reached Zoho before the worker died: look
        for it rather than post it twice (one extra call, on retries only)."""
        if row.attempts <= 1:
            return False
        wanted = row.comment.strip()
        return any(
            str(c.get("content", "")).strip() == wanted
            for c in self.c.desk.list_comments(row.ticket_id)
        )

    def _sent(
        self, row: OutboxWrite, fields: dict[str, Any], answer: Any, *, dry_run: bool
    ) -> None:
        now = self.c.clock()
        with db.transaction(self.c.sessions) as session:
            # Lock order everywhere: the ticket row, then its outbox row (else: deadlocks).
            ticket = self.ledger.lock(session, row.ticket_id)
            last_sent = merge_fields(json.loads(row.last_sent), fields)
            done = queue.end(
                session,
                OutboxWrite,
                row.ticket_id,
                OutboxWrite.version == row.version,
                owner=self.owner,
                status="done",
                comment="",
                last_sent=as_json(last_sent),
                sent_at=now,
                writes=OutboxWrite.writes + (0 if dry_run else 1),
                dry_run=dry_run,
                updated_at=now,
            )
            if not done:  # newer values coalesced in meanwhile: send them next
                queue.release(
                    session,
                    OutboxWrite,
                    row.ticket_id,
                    owner=self.owner,
                    available_at=now,
                    error="",
                    last_sent=as_json(last_sent),
                    **({"comment": ""} if row.comment else {}),
                )
            if row.comment and ticket is not None:
                ticket.comment_posted = True
            verb = "dry-run: would write" if dry_run else "wrote"
            self.ledger.audit(
                session,
                row.ticket_id,
                "write-back",
                f"{verb} {as_json(fields)}"
                + (" and the assignment comment" if row.comment else ""),
                {"fields": fields, "dry_run": dry_run, "comment": row.comment or None},
            )
