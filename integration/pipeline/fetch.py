"""Zoho's state for the events of a batch, fetched before they are applied.

In live mode an event only names its ticket: what enters the history is the ticket as Zoho shows
it (and its threads, for a thread event or a polled change) fetched after the event was received.
`prefetch` makes those reads for a whole claimed batch at once, concurrently (up to the
executor's size, which is ZOHO_MAX_CONCURRENCY), one fetch per distinct ticket: every event of
the batch was received before the claim, so one fetch after the claim is fresh enough for each of
them, and a ticket's events are still applied in their order, one after another, with it.

A failed fetch is kept, not raised: the events of that ticket meet the same error when they are
applied, and are settled (retried, waited for, quarantined) as if they had fetched themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..models import InboxEvent
from ..zoho import DeskClient, NotFound
from .inbox import HANDLED_EVENTS, THREAD_EVENTS
from .ledger import ADOPT_SOURCE


@dataclass(frozen=True)
class Fetched:
    """One ticket's state in Zoho: the ticket (None with `gone`: Zoho answers 404), its threads
    when asked for, or the error the fetch met."""

    ticket: dict[str, Any] | None = None
    gone: bool = False
    threads: list[dict[str, Any]] | None = None
    error: Exception | None = None

    def for_event(
        self, event: InboxEvent
    ) -> tuple[dict[str, Any] | None, bool, list[dict[str, Any]] | None]:
        """(ticket, gone, threads) as this event reads them; raises the fetch's error."""
        if self.error is not None:
            raise self.error
        return self.ticket, self.gone, self.threads if needs_threads(event) else None


def needs_threads(event: InboxEvent) -> bool:
    """The first reply is read from the threads on a thread event or a polled change (a portal
    without webhooks, or a lost Ticket_Thread_Add, tells of replies no other way), and for an
    adopted ticket (its replies came before the service heard of it)."""
    return event.event_type in THREAD_EVENTS or event.source in ("poll", ADOPT_SOURCE)


def fetch(desk: DeskClient, ticket_id: str, *, threads: bool) -> Fetched:
    """The ticket (even for a Ticket_Delete: a forged one must not stop the tracking) and, if
    asked and it exists, its threads."""
    try:
        ticket = desk.get_ticket(ticket_id)
    except NotFound:
        return Fetched(gone=True)
    return Fetched(ticket=ticket, threads=desk.list_threads(ticket_id) if threads else None)


def _fetch_kept(desk: DeskClient, ticket_id: str, threads: bool) -> Fetched:
    try:
        return fetch(desk, ticket_id, threads=threads)
    except Exception as exc:  # kept for the ticket's events, which settle it
        return Fetched(error=exc)


def prefetch(
    desk: DeskClient, events: Iterable[InboxEvent], executor: Executor
) -> dict[str, Fetched]:
    """Each distinct ticket of `events` (of the types the worker applies) fetched once,
    concurrently; threads too when one of its events needs them."""
    wanted: dict[str, bool] = {}
    for event in events:
        if event.event_type in HANDLED_EVENTS and event.ticket_id:
            wanted[event.ticket_id] = wanted.get(event.ticket_id, False) or needs_threads(event)
    futures = {
        ticket_id: executor.submit(_fetch_kept, desk, ticket_id, threads)
        for ticket_id, threads in wanted.items()
    }
    return {ticket_id: future.result() for ticket_id, future in futures.items()}


class RecentReads:
    """The tickets the worker's apply step just read from Zoho, for its write step: a write of
    our own fields may compare with that state instead of reading the ticket again (one GET per
    change instead of two). Each read is used once, and only while younger than `max_age_s`
    (monotonic time); a write that sets the priority never uses it."""

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._reads: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def put(self, ticket_id: str, ticket: dict[str, Any]) -> None:
        if self.max_age_s <= 0:
            return
        with self._lock:
            self._reads[ticket_id] = (time.monotonic(), ticket)
            if len(self._reads) > 10_000:  # never grows without bound
                oldest = sorted(self._reads, key=lambda k: self._reads[k][0])[:5_000]
                for key in oldest:
                    del self._reads[key]

    def take(self, ticket_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._reads.pop(ticket_id, None)
        if found is None or time.monotonic() - found[0] > self.max_age_s:
            return None
        return found[1]
