"""What the apply and write steps share: who holds the rows, and how a failed try is settled.

A try that failed is put back with an exponential backoff until the attempts are spent, then
`failed`, visibly. A try that could not reach Zoho for a reason time fixes (daily credits spent,
calls paused, re-authorisation required) is a *wait*, not an attempt: it is put back until Zoho
can be called again, and counted apart, so that it is bounded too (`WORKER_MAX_WAITS`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import db
from ..container import Container
from ..models import InboxEvent, Notice, OutboxWrite
from ..zoho import (
    CallsPaused,
    CreditsExhausted,
    NotFound,
    ReauthorizationRequired,
    RetryableError,
    TokenEndpointBusy,
    Unauthorized,
    ZohoError,
)
from . import claim
from .ledger import Ledger

log = logging.getLogger(__name__)

# Zoho cannot be called for a reason that time (or a person) fixes: wait without an attempt.
WAIT_FOR_ZOHO = (CallsPaused, CreditsExhausted, ReauthorizationRequired)
# Every failure of a Zoho call a step settles the same way (`settle_zoho_failure`).
ZOHO_FAILURES = (*WAIT_FOR_ZOHO, TokenEndpointBusy, ZohoError)
# How often a row waiting for re-authorisation looks again.
REAUTH_RECHECK = timedelta(minutes=5)
WAITING = "waiting for Zoho: "


def run_together(executor: Executor | None, tasks: Sequence[Callable[[], int]]) -> int:
    """Run the tasks on the executor and wait for every one; the sum of their results. The
    first error is raised once they have all ended (no task outlives the round). Without an
    executor they run one after another, stopping at an error."""
    if executor is None or len(tasks) <= 1:
        return sum(task() for task in tasks)
    futures = [executor.submit(task) for task in tasks]
    wait(futures)
    return sum(future.result() for future in futures)


class Budget:
    """How many more rows the lanes of one round may take (shared by threads)."""

    def __init__(self, rows: int) -> None:
        self._left = rows
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def close(self) -> None:
        """Nothing more is due: every lane stops after its current row."""
        with self._lock:
            self._left = 0


@dataclass(frozen=True)
class Scope:
    """What a worker may touch: some events and their tickets' writes and notices. A replay
    applies only the events it stored, never the rest of the queue."""

    event_ids: frozenset[int]
    ticket_ids: frozenset[str]

    def where(self, model: type[InboxEvent] | type[OutboxWrite] | type[Notice]) -> list[Any]:
        if model is InboxEvent:
            return [InboxEvent.id.in_(sorted(self.event_ids))]
        return [model.ticket_id.in_(sorted(self.ticket_ids))]


class Step:
    scope: Scope | None = None  # None: every due row
    # The worker's threads for Zoho calls (ZOHO_MAX_CONCURRENCY of them; live mode only): a
    # task run there makes its calls one at a time and never waits for another task, so a
    # thread holding one of the client's slots never waits for a second one.
    executor: Executor | None = None

    def scoped(self, model: type[InboxEvent] | type[OutboxWrite] | type[Notice]) -> list[Any]:
        """The claim's extra conditions for this step's scope (none without one)."""
        return [] if self.scope is None else self.scope.where(model)

    def __init__(self, container: Container, ledger: Ledger, owner: str) -> None:
        self.c = container
        self.settings = container.settings
        self.ledger = ledger
        self.owner = owner

    def backoff(self, attempts: int) -> timedelta:
        seconds = self.settings.worker_backoff_s * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(seconds, self.settings.worker_backoff_max_s))

    def resume_at(self, exc: Exception) -> datetime:
        """When to try again after Zoho said "not now"."""
        soonest = self.c.clock() + self.backoff(1)  # never due again in the same round
        when = getattr(exc, "resume_at", None)
        if when is not None:
            return max(when, soonest)  # type: ignore[no-any-return]
        return max(self.c.clock() + REAUTH_RECHECK, soonest)

    def wait(self, row: InboxEvent | OutboxWrite | Notice, exc: Exception) -> None:
        if row.waits + 1 >= self.settings.worker_max_waits:
            self.settle(
                row,
                error=f"gave up after {row.waits + 1} waits for Zoho; last: {exc}",
                final="failed",
            )
            return
        self.settle(row, error=WAITING + str(exc), retry_at=self.resume_at(exc), wait=True)

    def settle_zoho_failure(self, row: OutboxWrite | Notice, exc: BaseException) -> None:
        """Credits spent, calls paused, re-authorisation: a wait. 404: the ticket is gone.
        5xx, timeouts, too many calls, a busy token endpoint: retried with a backoff. Any other
        4xx: retrying cannot help, failed visibly."""
        if isinstance(exc, WAIT_FOR_ZOHO):
            self.wait(row, exc)
        elif isinstance(exc, NotFound):
            self.settle(row, error="ticket no longer exists in Zoho", final="cancelled")
            self.ticket_gone(row.ticket_id)
        elif isinstance(exc, RetryableError | TokenEndpointBusy | Unauthorized):
            # Unauthorized: refused again just after a refresh (another process's refresh, a
            # token expired in between): an authentication race, retried, never final.
            self.settle(row, error=str(exc))
        else:
            self.settle(row, error=str(exc), final="failed")

    def find_comment(self, ticket_id: str, marker: str) -> dict[str, Any] | None:
        """The ticket's comment carrying `marker`, if an earlier attempt stored it in Zoho (its
        answer lost): looked for before a comment is posted again."""
        for comment in self.c.desk.list_comments(ticket_id):  # type: ignore[union-attr]
            if marker in f"{comment.get('content') or ''} {comment.get('plainText') or ''}":
                return comment
        return None

    def ticket_gone(self, ticket_id: str) -> None:
        """Zoho answers 404 for the ticket (deleted, its webhook lost): stop tracking it, so the
        clock does not remind Zoho of it forever."""
        with db.transaction(self.c.sessions) as session:
            self.ledger.stop_tracking(session, self.ledger.lock(session, ticket_id), ticket_id)

    def settle(
        self,
        row: InboxEvent | OutboxWrite | Notice,
        *,
        error: str,
        retry_at: datetime | None = None,
        final: str | None = None,
        wait: bool = False,
    ) -> None:
        """After a failed try: back to the queue with a backoff, or a final state once the
        attempts are spent (or at once when `final` says so). Failures stay visible."""
        model = type(row)
        key = row.ticket_id if isinstance(row, OutboxWrite) else row.id
        if final is None and not wait and row.attempts >= self.settings.worker_max_attempts:
            final = "failed"
        with db.transaction(self.c.sessions) as session:
            if final is None:
                when = retry_at or self.c.clock() + self.backoff(row.attempts)
                claim.release(
                    session,
                    model,
                    key,
                    owner=self.owner,
                    available_at=when,
                    error=error,
                    count_attempt=not wait,
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
            if isinstance(row, OutboxWrite):
                # A newer decision made while this one failed is not failed with it.
                ended = claim.end(
                    session, model, key, OutboxWrite.version == row.version,
                    owner=self.owner, status=final, last_error=error,
                )  # fmt: skip
                if not ended:
                    claim.release(
                        session, model, key, owner=self.owner, available_at=self.c.clock(),
                        error=error, attempts=0, waits=0,
                    )  # fmt: skip
                    return
                self.ledger.audit(session, row.ticket_id, f"write-{final}", error, {})
                return
            claim.end(session, model, key, owner=self.owner, status=final, last_error=error)
