"""kill -9 of the worker at random points of a live run: nothing lost, Zoho ends as after a clean
run.

The same generated portal and events (`scenario.portal`: 5 events per ticket) are run twice
against a fake Zoho Desk served over HTTP from this process: once cleanly by a worker in this
process, then by real `python -m integration worker` processes that are SIGKILLed at random points
(a seeded random delay after the worker has visibly started working; the seed is printed, set
`CHAOS_SEED` to replay one) and started again until the queue is drained.

Time: each worker process runs on a clock that starts where the previous one stopped plus
`JUMP` (longer than the longest lease a killed worker can leave behind: a notice's, 300 s), so
rows a killed worker held return at once instead of after a wall-clock wait. The control run
shows that no SLA status, warning or reminder of these tickets falls due within the window the
jumps span, so the clean run is a valid reference.

What is asserted, and why these bounds:
- every event done, every write done, the notices in the same states as the clean run's;
- Zoho's tickets (priority, our custom fields, dueDate) and our tickets' rows equal to the clean
  run's;
- comments: exactly one explaining comment per ticket and the same comments as the clean run (the
  explaining comment has a marker, looked for before a retry posts again; notices too);
- PATCHes: at most the clean run's count plus the number of kills, per ticket and in total. A
  PATCH that reached Zoho before its worker died is not sent again as such (the retry fetches the
  ticket and sends only what differs), but the bound is what at-least-once delivery promises; the
  figures printed say how many were actually repeated (none in the runs measured).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integration.app import create_app
from integration.pipeline.worker import Worker
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import FakeZohoServer
from tests.pipeline.conftest import service_settings
from tests.pipeline.worker_process import ticking_from
from tests.reliability.scenario import (
    CHAOS,
    NOW,
    load,
    next_changes,
    portal,
    queue_counts,
    size,
    ticket_rows,
    wait_for,
    wipe,
    zoho_outcome,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = size(20, 1000)
KILLS = size(2, 20)  # at most; fewer when the queue drains first
ZOHO_LATENCY_S = 0.05
MAX_DELAY_S = 1.5 if CHAOS else 0.6  # a kill lands up to this long after the worker got going
JUMP = timedelta(seconds=301)  # > the longest lease a killed worker leaves (a notice's 300 s)
WORKER_ENV = {
    "WORKER_BATCH": "10",
    "WORKER_LEASE_S": "2",
    "WORKER_POLL_S": "0.05",
    "WORKER_BACKOFF_S": "0.01",
    "WORKER_BACKOFF_MAX_S": "0.05",
    "ZOHO_TIMEOUT_CONNECT_S": "1",
    "ZOHO_TIMEOUT_READ_S": "5",
    "ZOHO_MAX_RETRIES": "1",
    "ZOHO_BACKOFF_S": "0.01",
    "ZOHO_BACKOFF_MAX_S": "0.05",
    "LOG_LEVEL": "WARNING",
}


def start_worker(url: str, zoho: FakeZohoServer, start: datetime, cwd: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    desk = zoho.desk
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "ZOHO_DESK_BASE_URL": zoho.url,
        "ZOHO_ACCOUNTS_URL": zoho.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        **WORKER_ENV,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline.worker_process", start.isoformat()],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"tickets": outcome["tickets"], "comments": outcome["comments"]}


def clean_run(url: str, desk: FakeDesk, events: list[dict[str, Any]]) -> dict[str, Any]:
    with FakeZohoServer(desk) as zoho:
        app = create_app(
            service_settings(url, zoho.url, desk, **WORKER_ENV), clock=ticking_from(NOW)
        )
        load(url, events)
        Worker(app.extensions["integration"]).run_until_idle()
        app.extensions["integration"].dispose()
    return {
        "zoho": zoho_outcome(desk),
        "rows": ticket_rows(url),
        "queues": queue_counts(url),
        "upcoming": next_changes(url),
    }


def progress(url: str) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    return tuple((name, tuple(sorted(c.items()))) for name, c in queue_counts(url).items())


@pytest.mark.real_clock("the worker runs in processes of its own")
def test_kill_9_at_random_points_ends_like_a_clean_run(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nkill -9: CHAOS_SEED={seed} events={EVENTS}")
    rng = random.Random(seed)

    desk, events = portal(EVENTS)
    control = clean_run(database_url, desk, events)
    assert control["queues"]["events"] == {"done": EVENTS}
    assert set(control["zoho"]["explaining"].values()) == {1}
    window = KILLS * JUMP + timedelta(hours=2)  # the jumps, and the time the runs may take
    assert all(at > NOW + window for at in control["upcoming"]), "a status changes in the window"
    wipe(database_url)

    desk, events = portal(EVENTS)
    # Each Zoho call takes a little time, as a real one does: the batched worker is quick
    # enough otherwise to drain a small run before a kill lands.
    desk.latency_s = ZOHO_LATENCY_S
    kills, restarts, clock_offset = 0, 0, timedelta(0)
    with FakeZohoServer(desk) as zoho:
        load(database_url, events)
        while True:
            began = time.monotonic()
            worker = start_worker(database_url, zoho, NOW + clock_offset, tmp_path)
            restarts += 1
            try:
                # Drained: every event and write done, the notices as after the clean run.
                finished = lambda: queue_counts(database_url) == control["queues"]  # noqa: E731
                if kills < KILLS and not finished():
                    # A random point once the worker is at work (it has claimed or done something).
                    at_start = progress(database_url)
                    wait_for(
                        lambda at=at_start: progress(database_url) != at, 120, "the worker to work"
                    )
                    time.sleep(rng.uniform(0, MAX_DELAY_S))
                    if not finished():
                        os.kill(worker.pid, signal.SIGKILL)
                        worker.wait(timeout=10)
                        kills += 1
                        clock_offset += timedelta(seconds=time.monotonic() - began) + JUMP
                        continue
                wait_for(finished, 60 + EVENTS, "the queue to drain")  # or fail, saying so below
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=30) == 0
                break
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait(timeout=10)
        after = zoho_outcome(desk)

    queues = queue_counts(database_url)
    patches, clean_patches = after["patches"], control["zoho"]["patches"]
    print(
        f"kill -9: seed={seed} events={EVENTS} tickets={len(desk.tickets)} kills={kills} "
        f"worker starts={restarts} PATCH clean={sum(clean_patches.values())} "
        f"killed={sum(patches.values())} comment POSTs clean="
        f"{sum(control['zoho']['comment_posts'].values())} killed="
        f"{sum(after['comment_posts'].values())}"
    )
    assert kills >= 1, "no kill landed: the run is too short for its kills"
    assert queues["events"] == {"done": EVENTS}
    assert queues == control["queues"]
    assert ticket_rows(database_url) == control["rows"]
    ours, clean = comparable(after), comparable(control["zoho"])
    for part in ("tickets", "comments"):
        differ = {t: (ours[part].get(t), clean[part].get(t))
                  for t in clean[part] if ours[part].get(t) != clean[part].get(t)}  # fmt: skip
        assert not differ, f"{part} differ from the clean run's (after, clean): {differ}"
    assert set(after["explaining"].values()) == {1}
    assert sum(after["comment_posts"].values()) == sum(control["zoho"]["comment_posts"].values())
    for ticket_id, count in patches.items():
        assert count <= clean_patches[ticket_id] + kills, ticket_id
    assert sum(patches.values()) <= sum(clean_patches.values()) + kills
