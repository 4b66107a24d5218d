"""The worker: claims due rows and runs the apply and write steps on them, in a loop.

Each round applies a batch of inbox events (`apply.py`: Zoho's state is fetched first, then the
ticket's ledger appends the observations, recomputes the deadlines from the whole log and records
the decision in the ticket's outbox row), then sends due outbox rows (`write.py`: the difference
with Zoho's state at send time). Every step is safe to run twice, so a killed worker's rows are
simply claimed again when its lease expires.

Live, the Zoho calls of a round run on the worker's own threads, ZOHO_MAX_CONCURRENCY of them
(the client's cap on calls in flight): the batch's reads before its events are applied, the
writes of different tickets, the notices of different tickets. Each thread works with its own
database sessions; a ticket's work stays in order (one fetch per ticket and batch, one outbox
row per ticket under its lease, a ticket's notices in one thread).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from ..container import Container
from ..db import describe_error
from ..health import WorkerBeat, beat
from ..models import InboxEvent, OutboxWrite
from .apply import EventApplier, RetryLater
from .fetch import RecentReads
from .ledger import Ledger
from .notify import NoticeSender
from .recompute import announce_policy
from .step import Scope
from .write import OutboxWriter

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)

__all__ = ["RetryLater", "RoundResult", "Scope", "Worker"]


@dataclass
class RoundResult:
    events: int = 0
    writes: int = 0
    notices: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.events or self.writes or self.notices)


class Worker:
    def __init__(
        self, container: Container, name: str = "worker", scope: Scope | None = None
    ) -> None:
        self.c = container
        self.settings = container.settings
        self.name = name
        self.owner = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._beat_at: datetime | None = None
        self._policy_announced = False
        self.ledger = Ledger.of(container)
        self.applier = EventApplier(container, self.ledger, self.owner)
        self.writer = OutboxWriter(container, self.ledger, self.owner)
        self.notifier = NoticeSender(container, self.ledger, self.owner)
        # Made once, live only (dry-run calls nothing); shut down by `close` (end of `run`).
        self.executor: ThreadPoolExecutor | None = None
        if container.live:
            self.executor = ThreadPoolExecutor(
                max_workers=self.settings.zoho_max_concurrency, thread_name_prefix=f"{name}-zoho"
            )
        for step in (self.applier, self.writer, self.notifier):
            step.scope = scope
            step.executor = self.executor
        self.applier.writer = self.writer
        # What apply just read from Zoho, for the write that follows (live only).
        self.applier.recent = self.writer.recent = (
            RecentReads(self.settings.zoho_reuse_read_s) if container.live else None
        )

    def close(self) -> None:
        """Stop the worker's threads (after the tasks they run)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def process_events(self) -> int:
        return self.applier.process()

    def process_outbox(self) -> int:
        return self.writer.process()

    def send(self, row: OutboxWrite) -> None:
        self.writer.send(row)

    def apply(self, event: InboxEvent) -> None:
        self.applier.process_one(event)

    def run_once(self) -> RoundResult:
        if not self._policy_announced:
            # The policy in force is recorded (so a later revision can say what changed) and
            # how many open tickets an older revision computed is logged, once per worker.
            self._policy_announced = announce_policy(self.c) is not None
        result = RoundResult(
            events=self.process_events(),
            writes=self.process_outbox(),
            notices=self.notifier.process(),
        )
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
        try:
            self._run(stop)
        finally:
            self.close()
        log.info("worker %s stopped", self.owner)

    def _run(self, stop: threading.Event) -> None:
        try:
            self.writer.adopt_dry_run()
        except DBAPIError as exc:  # the database is down: the next start adopts them
            log.warning("dry-run writes not adopted (%s)", describe_error(exc))
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
                    describe_error(exc),
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

    def heartbeat(self) -> None:
        """Alive, and how: `status` reads the running worker's write-back mode and the credits
        Zoho last reported from here, not from the settings of the shell that asks."""
        gauge = getattr(self.c.desk, "gauge", None)
        said = WorkerBeat(
            self.owner, self.c.settings.write_back_mode, gauge.remaining if gauge else None
        )
        beat(self.c.sessions, self.name, said.detail(), self.c.clock())
