"""Prometheus metrics: `/metrics` (see `app.py`).

Two kinds of series:

- **counters of what happens in a process** (`Metrics`): webhook deliveries by result, Zoho
  calls by endpoint and status, the credits Zoho's last answer said were left. Under gunicorn
  (several processes) set `PROMETHEUS_MULTIPROC_DIR` in the environment of every process of the
  host (web, worker, clock) to one directory: each process writes its values there and a scrape
  adds them up. prometheus-client reads that variable itself, when it is first imported (here,
  when the first container is built), so it must be in the process environment, not `.env`.
- **gauges of what the database holds** (`DatabaseCollector`): backlog, oldest pending event,
  worker lag, outbox by state and refused fields, tickets by SLA status, notices fired, token
  refreshes, heartbeats and each clock job's last success. They are read at scrape time, so they
  are true whichever process serves the scrape; the figures are reused for `METRICS_CACHE_S`.

Nothing here runs at import time; prometheus-client itself is imported when first needed.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from .container import Container

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_PREFIX = "job:"  # process_heartbeats rows recording a clock job's last success
# Delivery results: 200 (new events stored, or every event already stored), or the refusal.
DELIVERY_RESULTS = {401: "401", 400: "400", 413: "413", 422: "422", 503: "503"}
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_of(path: str) -> str:
    """A Zoho API path without its ids (`/tickets/123/comments` -> `/tickets/{id}/comments`),
    so that the label has few values."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


class Metrics:
    """The in-process counters of one running service (one registry per container)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        self.scrape_registry: CollectorRegistry | None = None  # see `scrape`
        self.deliveries = Counter(
            "sla_webhook_deliveries",
            "Webhook deliveries by result: accepted, duplicate (every event already stored), or "
            "the HTTP status of a refusal",
            ["result"],
            registry=self.registry,
        )
        self.zoho_calls = Counter(
            "sla_zoho_calls",
            "Zoho Desk API calls by method, endpoint (ids replaced) and HTTP status "
            "(timeout/connection_error when none came)",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.zoho_credits = Gauge(
            "sla_zoho_credits_remaining",
            "API credits left according to Zoho's last answer (X-Rate-Limit-Remaining-v3)",
            ["org_id"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

        for result in ("accepted", "duplicate", *DELIVERY_RESULTS.values()):
            self.deliveries.labels(result)  # every result shows, at 0 until it happens

    def delivery(self, status: int, *, new: int = 0, events: int = 0) -> None:
        if status == 200:
            result = "duplicate" if events and not new else "accepted"
        else:
            result = DELIVERY_RESULTS.get(status, str(status))
        self.deliveries.labels(result).inc()

    def zoho_call(self, method: str, path: str, status: int | str) -> None:
        self.zoho_calls.labels(method, endpoint_of(path), str(status)).inc()

    def credits(self, org_id: str, remaining: int) -> None:
        self.zoho_credits.labels(org_id).set(remaining)


def scrape(container: Container) -> bytes:
    """The exposition text: the process's (or, with PROMETHEUS_MULTIPROC_DIR, every process's)
    counters and the database's gauges."""
    from prometheus_client import generate_latest

    return generate_latest(_scrape_registry(container))


_registries_lock = threading.Lock()


def _scrape_registry(container: Container) -> CollectorRegistry:
    """Built once per container, on the first scrape."""
    with _registries_lock:
        registry = container.metrics.scrape_registry
        if registry is not None:
            return registry
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
        else:
            registry = container.metrics.registry
        registry.register(DatabaseCollector(container))
        container.metrics.scrape_registry = registry
        return registry


@dataclass
class _Cached:
    at: float = 0.0
    families: list[Metric] = field(default_factory=list)


class DatabaseCollector:
    """Gauges read from the database at scrape time (each query indexed or bounded)."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self._cached = _Cached()
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # not described up front: the registry must not query at registration

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            ttl = self.c.settings.metrics_cache_s
            if not self._cached.families or time.monotonic() - self._cached.at >= ttl:
                self._cached = _Cached(time.monotonic(), self._read())
            yield from self._cached.families

    def _read(self) -> list[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(
            "sla_database_up", "Whether the database answered this scrape's queries (1) or not"
        )
        try:
            families = self._families()
        except SQLAlchemyError:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self) -> list[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from . import db

        now = self.c.clock()
        with db.read_only(self.c.sessions)() as session:
            figures = _read_figures(session, now)

        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        inbox = gauge("sla_inbox_events", "Inbox events in a state that needs work", ["status"])
        for status in INBOX_STATES:
            inbox.add_metric([status], figures.inbox.get(status, 0))
        backlog = gauge("sla_inbox_backlog_events", "Inbox events waiting to be applied")
        backlog.add_metric([], sum(figures.inbox.get(s, 0) for s in ("pending", "processing")))
        oldest = gauge(
            "sla_inbox_oldest_pending_age_seconds",
            "Age of the oldest inbox event waiting to be applied (0: none)",
        )
        oldest.add_metric([], _age(now, figures.oldest_waiting))
        lag = gauge(
            "sla_worker_lag_seconds",
            "How long the oldest due event has waited for a worker to claim it (0: none)",
        )
        lag.add_metric([], _age(now, figures.oldest_due))

        outbox = gauge("sla_outbox_writes", "Write-backs in a state that needs work", ["status"])
        for status in OUTBOX_STATES:
            outbox.add_metric([status], figures.outbox.get(status, 0))
        refused = gauge(
            "sla_outbox_refused_fields",
            "Write-backs with a field Zoho refused (e.g. a picklist without the value), by field",
            ["field"],
        )
        for name, count in sorted(figures.refused.items()):
            refused.add_metric([name], count)
        refused_writes = gauge(
            "sla_outbox_refused_writes", "Write-backs with at least one field Zoho refused"
        )
        refused_writes.add_metric([], figures.refused_writes)

        tickets = gauge(
            "sla_tickets", "Open tickets (neither closed nor deleted) by SLA status", ["sla_status"]
        )
        for status, count in sorted(figures.tickets.items()):
            tickets.add_metric([status or "none"], count)
        notices = CounterMetricFamily(
            "sla_notices_fired",
            "Warnings (at_risk), breaches, follow-ups and ETA reminders fired by the clock",
            labels=["kind"],
        )
        for kind in NOTICE_KINDS:
            notices.add_metric([kind], figures.notices.get(kind, 0))

        refreshes = CounterMetricFamily(
            "sla_zoho_token_refreshes", "Zoho access tokens minted (every process)"
        )
        refreshes.add_metric([], figures.token_refreshes)
        reauth = gauge(
            "sla_zoho_reauth_required", "1 while Zoho needs re-authorisation (invalid_grant)"
        )
        reauth.add_metric([], 1 if figures.reauth_required else 0)

        heartbeat = gauge(
            "sla_process_heartbeat_age_seconds", "Age of the last heartbeat", ["process"]
        )
        jobs = gauge(
            "sla_clock_job_last_success_timestamp_seconds",
            "When each clock job last succeeded (Unix time)",
            ["job"],
        )
        for name, beat_at in sorted(figures.beats.items()):
            if name.startswith(JOB_PREFIX):
                jobs.add_metric([name.removeprefix(JOB_PREFIX)], beat_at.timestamp())
            else:
                heartbeat.add_metric([name], _age(now, beat_at))
                if name == "clock":
                    jobs.add_metric(["heartbeat"], beat_at.timestamp())
        return [
            inbox, backlog, oldest, lag, outbox, refused, refused_writes, tickets, notices,
            refreshes, reauth, heartbeat, jobs,
        ]  # fmt: skip


INBOX_STATES = ("pending", "processing", "failed", "quarantined")
OUTBOX_STATES = ("pending", "processing", "failed")
NOTICE_KINDS = ("at_risk", "breached", "follow_up", "eta_reminder")


@dataclass
class Figures:
    inbox: dict[str, int]
    oldest_waiting: datetime | None
    oldest_due: datetime | None
    outbox: dict[str, int]
    refused: dict[str, int]
    refused_writes: int
    tickets: dict[str, int]
    notices: dict[str, int]
    token_refreshes: int
    reauth_required: bool
    beats: dict[str, datetime]


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def _read_figures(session: Any, now: datetime) -> Figures:
    from .models import (
        InboxEvent,
        Notice,
        OAuthToken,
        OutboxWrite,
        ProcessHeartbeat,
        TrackedTicket,
    )

    # inbox and outbox: ranges of their (status, available_at) indexes
    inbox = dict(
        session.execute(
            select(InboxEvent.status, func.count())
            .where(InboxEvent.status.in_(INBOX_STATES))
            .group_by(InboxEvent.status)
        ).all()
    )
    waiting = InboxEvent.status.in_(("pending", "processing"))
    oldest_waiting = session.scalar(select(func.min(InboxEvent.received_at)).where(waiting))
    oldest_due = session.scalar(
        select(func.min(InboxEvent.available_at)).where(
            InboxEvent.status == "pending", InboxEvent.available_at <= now
        )
    )
    outbox = dict(
        session.execute(
            select(OutboxWrite.status, func.count())
            .where(OutboxWrite.status.in_(OUTBOX_STATES))
            .group_by(OutboxWrite.status)
        ).all()
    )
    refused: dict[str, int] = {}
    refused_rows = session.scalars(select(OutboxWrite.refused).where(OutboxWrite.refused != "{}"))
    refused_writes = 0
    for raw in refused_rows:
        refused_writes += 1
        try:
            names = list(json.loads(raw or "{}"))
        except ValueError:
            names = ["unreadable"]
        for name in names:
            refused[name] = refused.get(name, 0) + 1
    tickets = dict(
        session.execute(
            select(TrackedTicket.sla_status, func.count())
            .where(
                TrackedTicket.deleted.is_(False),
                func.lower(TrackedTicket.zoho_status_type) != "closed",
            )
            .group_by(TrackedTicket.sla_status)
        ).all()
    )
    notices = dict(session.execute(select(Notice.kind, func.count()).group_by(Notice.kind)).all())
    token = session.get(OAuthToken, "zoho")
    beats = dict(session.execute(select(ProcessHeartbeat.name, ProcessHeartbeat.beat_at)).all())
    return Figures(
        inbox=inbox,
        oldest_waiting=oldest_waiting,
        oldest_due=oldest_due,
        outbox=outbox,
        refused=refused,
        refused_writes=refused_writes,
        tickets=tickets,
        notices=notices,
        token_refreshes=token.refresh_count if token is not None else 0,
        reauth_required=bool(token is not None and token.reauth_required),
        beats=beats,
    )
