"""The clock process: APScheduler jobs, run by exactly one active clock.

On PostgreSQL the active clock holds an advisory lock on a connection of its own; a second clock
waits, and takes over when the first dies (its session ends, the lock goes with it). On SQLite
there is one process. The jobs only run idempotent sweeps whose writes go through the outbox, so
a job run twice (a takeover, a misfire) changes nothing; notices fire once by their unique key.
A heartbeat row (`process_heartbeats`, name `clock`) says the clock is alive; `/readyz` shows its
age.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from ..container import Container
from ..db import describe_error
from ..health import beat
from ..metrics import JOB_PREFIX
from .retention import prune_once
from .sweep import sweep_once

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x51A_C10C  # "SLA clock": one active clock per database
LEADER_RETRY_S = 5.0
HEARTBEAT_S = 10
MISFIRE_GRACE_S = 30


class Leadership:
    """Who runs the jobs. `acquire` waits (until `stop`) to become the active clock."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.connection: Connection | None = None

    @property
    def exclusive(self) -> bool:
        return self.container.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        if not self.exclusive:
            return True
        connection = self.container.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        if got:
            self.connection = connection
            return True
        connection.close()
        return False

    def alive(self) -> bool:
        """Still the active clock: our session (and with it the lock) is still there."""
        if self.connection is None:
            return not self.exclusive
        try:
            self.connection.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            except DBAPIError:
                pass  # the session is gone: so is the lock
            finally:
                self.connection.close()
                self.connection = None


class ClockProcess:
    def __init__(self, container: Container, name: str = "clock") -> None:
        self.c = container
        self.name = name
        self.owner = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.leadership = Leadership(container)

    # ---- jobs (each safe to run twice, and by two clocks) -----------------------------------

    def sweep(self) -> None:
        try:
            sweep_once(self.c)
            self.succeeded("sweep")
        except DBAPIError as exc:
            log.warning("sweep skipped, database unavailable (%s)", describe_error(exc))

    def poll(self) -> None:
        from .poll import poll_once

        try:
            if not poll_once(self.c).stopped:  # stopped: Zoho or the database said no
                self.succeeded("poll")
        except DBAPIError as exc:
            log.warning("poll skipped, database unavailable (%s)", describe_error(exc))

    def prune(self) -> None:
        try:
            prune_once(self.c)
            self.succeeded("prune")
        except DBAPIError as exc:
            log.warning("prune skipped, database unavailable (%s)", type(exc.orig).__name__)

    def monthly_report(self) -> None:
        from ..report.monthly import monthly_report_once

        try:
            monthly_report_once(self.c)
            self.succeeded("report")
        except DBAPIError as exc:
            log.warning("monthly report skipped, database unavailable (%s)", describe_error(exc))

    def succeeded(self, job: str) -> None:
        """The job's last success, a heartbeat row of its own (`/metrics` shows its time)."""
        beat(self.c.sessions, JOB_PREFIX + job, self.owner, self.c.clock())

    def heartbeat(self) -> None:
        try:
            beat(self.c.sessions, "clock", self.owner, self.c.clock())
        except DBAPIError as exc:
            log.warning("clock heartbeat not written (%s)", describe_error(exc))

    # ---- process ----------------------------------------------------------------------------

    def scheduler(self) -> BackgroundScheduler:
        settings = self.c.settings
        scheduler = BackgroundScheduler(
            timezone=self.c.policy.tz,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        now = datetime.now(self.c.policy.tz)
        scheduler.add_job(
            self.heartbeat, "interval", seconds=HEARTBEAT_S, id="heartbeat", next_run_time=now
        )
        scheduler.add_job(
            self.sweep, "interval", seconds=settings.clock_interval_s, id="sweep",
            next_run_time=now,
        )  # fmt: skip
        if settings.retention_days > 0:
            scheduler.add_job(
                self.prune, "interval", seconds=settings.clock_prune_interval_s, id="prune",
                next_run_time=now,
            )  # fmt: skip
        if settings.clock_poll_interval_s > 0:
            scheduler.add_job(
                self.poll, "interval", seconds=settings.clock_poll_interval_s, id="poll",
                next_run_time=now,
            )  # fmt: skip
        if settings.report_dir or settings.report_chat_webhook_url:
            from ..report.monthly import CHECK_EVERY_S

            scheduler.add_job(
                self.monthly_report, "interval", seconds=CHECK_EVERY_S, id="report",
                next_run_time=now,
            )  # fmt: skip
        return scheduler

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: wait to be the active clock, run the jobs while we are."""
        log.info("clock %s started", self.owner)
        while not stop.is_set():
            with self._leading(stop) as leading:
                if not leading:
                    continue
                scheduler = self.scheduler()
                scheduler.start()
                log.info("clock %s is the active clock", self.owner)
                try:
                    while not stop.is_set() and self.leadership.alive():
                        stop.wait(LEADER_RETRY_S)
                finally:
                    scheduler.shutdown(wait=True)
                if not stop.is_set():
                    log.warning("clock %s lost its lock; waiting to take over again", self.owner)
        log.info("clock %s stopped", self.owner)

    @contextmanager
    def _leading(self, stop: threading.Event) -> Iterator[bool]:
        try:
            leading = self.leadership.try_acquire()
        except DBAPIError as exc:
            log.warning("clock cannot reach the database (%s)", describe_error(exc))
            leading = False
        if not leading:
            stop.wait(LEADER_RETRY_S)
            yield False
            return
        try:
            yield True
        finally:
            self.leadership.release()
