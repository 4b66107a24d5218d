"""Zoho's access token expiring mid-run, under concurrent calls: one refresh per expiry.

Three workers, each with a container of its own (its own engine, HTTP client and token manager,
as separate processes would have; they share the token through the database), drain the
generated events together against the fake Zoho over HTTP. The fake expires every token it issued
at fixed points of the run (on its n-th ticket fetch): the calls in flight with the old token get
a 401, and each worker's client invalidates it and asks for a new one. Zoho's token endpoint must
be called exactly once per expiry (plus the first token), never once per worker or per call.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from integration.app import create_app
from integration.pipeline.worker import Worker
from integration.zoho.fake import FakeDesk, Fault
from integration.zoho.fake_server import FakeZohoServer
from tests.pipeline.conftest import Clock, service_settings
from tests.reliability.scenario import NOW, load, portal, queue_counts, size

pytestmark = pytest.mark.heavy  # see tests/conftest.py: run once, at the real wall clock

EVENTS = size(30, 500)
EXPIRIES = size(2, 5)
WORKERS = 3


class ExpiringDesk(FakeDesk):
    """Expires every token on chosen ticket fetches (counted from `arm`)."""

    def arm(self, expire_on: set[int]) -> None:
        self.fetches = 0
        self.expire_on = expire_on
        self.expired = 0
        self.expired_at_fetch: list[int] = []

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        with self._lock:
            self.fetches += 1
            if self.fetches in self.expire_on:
                self.expire_tokens()
                self.expired += 1
                self.expired_at_fetch.append(self.fetches)
        return super().get_ticket(ticket_id)


def test_a_token_expiring_mid_run_under_concurrent_workers_is_refreshed_once(
    database_url: str,
) -> None:
    desk, events = portal(EVENTS)
    desk.__class__ = ExpiringDesk
    # The batched worker fetches a ticket once per batch, and a write of our own fields reuses
    # that read: the expiries fall within the first third of the run's fetches.
    step = max(2, EVENTS // (3 * (EXPIRIES + 1)))
    desk.arm({step * (n + 1) for n in range(EXPIRIES)})
    # Every ticket fetch takes 30 ms: the workers' calls overlap, several in flight at an expiry.
    desk.inject(Fault(status=200, delay_s=0.03, times=10**6, method="GET", path_prefix="/api/v1/"))
    clock = Clock(NOW)
    with FakeZohoServer(desk) as zoho:
        containers = [
            create_app(
                service_settings(database_url, zoho.url, desk, WORKER_BATCH="3"), clock=clock
            ).extensions["integration"]
            for _ in range(WORKERS)
        ]
        load(database_url, events)
        barrier = threading.Barrier(WORKERS)
        errors: list[BaseException] = []

        def drain(worker: Worker) -> None:
            barrier.wait()
            try:
                worker.run_until_idle()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [
            threading.Thread(target=drain, args=(Worker(c, f"w{n}"),))
            for n, c in enumerate(containers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        # Anything a worker left to the others: an event of a ticket whose Ticket_Add another
        # worker was applying waits a backoff, then goes.
        clock.advance(minutes=5)
        Worker(containers[0]).run_until_idle()
        for c in containers:
            c.dispose()
        gets = sum(1 for r in desk.requests if r.path.startswith("/api/v1/") and r.method == "GET")
    print(
        f"\ntoken expiry: events={EVENTS} workers={WORKERS} expiries={desk.expired} "
        f"token calls={desk.token_calls} API GETs={gets}"
    )
    assert errors == []
    assert desk.expired == EXPIRIES
    assert queue_counts(database_url)["events"] == {"done": EVENTS}
    assert desk.expired_at_fetch[-1] < desk.fetches  # every expiry met later calls
    assert desk.token_calls == 1 + EXPIRIES  # the first token, then one refresh per expiry
