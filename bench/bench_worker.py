"""Benchmark: the worker's throughput in dry-run, and the SQL it sends per event.

Per database, per worker count:

1. a fresh, migrated database (a SQLite file in a temporary folder, or a PostgreSQL database of
   its own, dropped after);
2. the inbox preloaded through the real receive path (the service's Flask app, its webhook
   endpoint, `?token=` auth, dry-run: the rows production stores): N Ticket_Add of distinct
   tickets (bodies like examples/ticket_add.json), then Ticket_Update events (an agent puts the
   ticket on hold) for a share of them, in deliveries of `--per-delivery` events;
3. W worker processes (multiprocessing, spawn), each the in-process equivalent of `python -m
   integration worker` (the same settings, logging and `Worker`, its `run_once` rounds) with no
   Zoho credentials (dry-run), started together and run until the inbox and the outbox hold
   nothing pending or processing;
4. events/s (events / wall time of the drain), and per event: SQL statements, transactions
   begun, commits (SQLAlchemy's `before_cursor_execute`, `begin`, `commit` events on the
   worker's engine, in the worker process; the drain checks between rounds are not counted),
   the statements by kind, the share of the time spent inside the driver; the peak RSS of each
   worker process.

SQLite runs one worker only: the service refuses a second worker process on one SQLite file
(README: several workers need PostgreSQL). `--json` prints one JSON object.

    python bench/bench_worker.py [--db sqlite|postgresql|both] [--tickets 1000]
        [--update-share 0.2] [--workers 1,2] [--batch 20] [--profile 25] [--json]

The issue's figures: `--tickets 5000`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import benchlib
from benchlib import WEBHOOK_PATH, FreshDatabase

TOKEN = "bench-worker-token"
BUSY = ("pending", "processing")


def preload(url: str, tickets: int, update_share: float, per_delivery: int) -> int:
    """Store the events through the service's own webhook endpoint. Returns how many."""
    from integration.app import create_app

    app = create_app(
        {
            "DATABASE_URL": url,
            "WEBHOOK_AUTH": "token",
            "WEBHOOK_TOKEN": TOKEN,
            "LOG_LEVEL": "WARNING",
        }
    )
    now = datetime.now(UTC)
    events = [benchlib.add_event(i, now) for i in range(tickets)]
    if update_share > 0:
        step = max(1, round(1 / update_share))
        events += [benchlib.update_event(i, now) for i in range(0, tickets, step)]
    client = app.test_client()
    try:
        for start in range(0, len(events), per_delivery):
            chunk = events[start : start + per_delivery]
            answer = client.post(
                f"{WEBHOOK_PATH}?token={TOKEN}",
                data=benchlib.delivery(chunk),
                content_type="application/json",
            )
            body = answer.get_json(silent=True) or {}
            if answer.status_code != 200 or body.get("new") != len(chunk):
                raise SystemExit(f"preload refused: {answer.status_code} {body}")
    finally:
        app.extensions["integration"].dispose()
    counts = benchlib.inbox_counts(url)
    if counts != {"pending": len(events)}:
        raise SystemExit(f"preload stored {counts}, expected {len(events)} pending")
    return len(events)


def worker_process(
    url: str, batch: int, log_path: str, profile: int, barrier: Any, results: Any
) -> None:
    """One worker process: `python -m integration worker`'s set-up, then rounds until drained."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)  # the worker's log lines (INFO per applied event, as in production)
    sys.stderr = os.fdopen(2, "w", buffering=1)

    from sqlalchemy import func, select

    from integration.config import settings_from_mapping
    from integration.container import build_container
    from integration.logs import configure_logging
    from integration.models import InboxEvent, OutboxWrite
    from integration.pipeline.worker import Worker

    settings = settings_from_mapping({"DATABASE_URL": url, "WORKER_BATCH": str(batch)})
    configure_logging(settings.log_level, settings.log_format)
    container = build_container(settings)
    assert not container.live, "dry-run expected"
    counter = benchlib.StatementCounter(container.engine)
    worker = Worker(container)
    worker.writer.adopt_dry_run()

    def drained() -> bool:
        with container.sessions() as session:
            events = session.scalar(select(func.count()).where(InboxEvent.status.in_(BUSY)))
            writes = session.scalar(select(func.count()).where(OutboxWrite.status.in_(BUSY)))
        return not events and not writes

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    applied = writes = rounds = 0
    barrier.wait()
    first = time.monotonic()
    deadline = first + 1800
    if profiler:
        profiler.enable()
    while time.monotonic() < deadline:
        counter.active = True
        result = worker.run_once()
        counter.active = False
        rounds += 1
        applied += result.events
        writes += result.writes
        if not result.busy:
            if drained():
                break
            time.sleep(0.01)  # the other worker holds the rest, or a row is backing off
    last = time.monotonic()
    if profiler:
        profiler.disable()
    figures = counter.figures()
    figures.update(
        first=first,
        last=last,
        rounds=rounds,
        applied=applied,
        writes=writes,
        peak_rss_mb=benchlib.own_peak_rss_mb(),
        pid=os.getpid(),
    )
    if profiler:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile)
        figures["profile"] = out.getvalue()
    container.dispose()
    results.put(figures)


def drain(url: str, workers: int, args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    context = mp.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker_process,
            args=(url, args.batch, f"{workdir}/worker-{w}.log", args.profile, barrier, results),
        )
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    outs = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
    return {"processes": outs}


def measure(kind: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    with FreshDatabase(kind, "worker", args.postgres_url) as database:
        began = time.monotonic()
        events = preload(database.url, args.tickets, args.update_share, args.per_delivery)
        preload_s = time.monotonic() - began
        outs = drain(database.url, workers, args, database.workdir)["processes"]
        inbox, outbox = benchlib.queue_counts(database.url)
    wall = max(o["last"] for o in outs) - min(o["first"] for o in outs)
    total = {
        key: sum(o[key] for o in outs)
        for key in ("statements", "begins", "commits", "rollbacks", "checkouts", "db_time_s")
    }
    kinds: dict[str, int] = {}
    cache: dict[str, int] = {}
    for out in outs:
        for name, count in out["kinds"].items():
            kinds[name] = kinds.get(name, 0) + count
        for name, count in out["compiled_cache"].items():
            cache[name] = cache.get(name, 0) + count
    per_event = {k: round(v / events, 2) for k, v in total.items() if k != "db_time_s"}
    round_trips = total["statements"] + total["begins"] + total["commits"] + total["rollbacks"]
    if kind == "postgresql":
        round_trips += total["checkouts"]  # pool_pre_ping: one ping per checkout
    figures: dict[str, Any] = {
        "database": kind,
        "workers": workers,
        "events": events,
        "tickets": args.tickets,
        "preload_s": round(preload_s, 1),
        "wall_s": round(wall, 2),
        "events_per_s": round(events / wall, 1),
        "statements_per_event": per_event["statements"],
        "commits_per_event": per_event["commits"],
        "begins_per_event": per_event["begins"],
        "rollbacks_per_event": per_event["rollbacks"],
        "checkouts_per_event": per_event["checkouts"],
        "round_trips_per_event_approx": round(round_trips / events, 2),
        "db_time_share": round(total["db_time_s"] / (wall * workers), 3),
        "statement_kinds_per_event": {
            name: round(count / events, 2)
            for name, count in sorted(kinds.items(), key=lambda kv: -kv[1])
        },
        "compiled_cache": cache,
        "peak_rss_mb": [o["peak_rss_mb"] for o in outs],
        "applied_by_process": [o["applied"] for o in outs],
        "inbox_after": inbox,
        "outbox_after": outbox,
        "drained": not any(inbox.get(s) or outbox.get(s) for s in BUSY),
    }
    if args.profile:
        figures["profile"] = [o.get("profile", "") for o in outs]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tickets", type=int, default=1000, help="distinct tickets (Ticket_Add)")
    parser.add_argument(
        "--update-share", type=float, default=0.2, help="Ticket_Update events per ticket"
    )
    parser.add_argument("--per-delivery", type=int, default=50, help="events per delivery")
    parser.add_argument("--workers", default="1,2", help="worker process counts to measure")
    parser.add_argument("--batch", type=int, default=20, help="WORKER_BATCH (default 20)")
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile the workers; print the top N functions"
    )
    parser.add_argument("--postgres-url", default=benchlib.DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]

    started = time.monotonic()
    report: dict[str, Any] = {
        "benchmark": "worker",
        "machine": benchlib.machine(),
        "config": {
            "tickets": args.tickets,
            "update_share": args.update_share,
            "per_delivery": args.per_delivery,
            "batch": args.batch,
            "mode": "dry-run",
        },
        "cases": [],
        "skipped": [],
    }
    for kind in benchlib.databases(args.db, args.postgres_url):
        for workers in counts:
            if kind == "sqlite" and workers > 1:
                report["skipped"].append(
                    f"sqlite with {workers} workers: the service runs one worker per SQLite file"
                )
                continue
            case = measure(kind, workers, args)
            report["cases"].append(case)
            if not args.json:
                print(
                    f"{kind}, {workers} worker(s): {case['events']} events in {case['wall_s']} s"
                    f" = {case['events_per_s']} events/s; per event "
                    f"{case['statements_per_event']} statements, "
                    f"{case['commits_per_event']} commits, "
                    f"~{case['round_trips_per_event_approx']} round trips; "
                    f"driver time {case['db_time_share']:.0%}; "
                    f"compiled cache {case['compiled_cache']}; peak RSS {case['peak_rss_mb']} MB"
                    + ("" if case["drained"] else f"; NOT DRAINED {case['inbox_after']}"),
                    flush=True,
                )
                for profile in case.get("profile", []):
                    print(profile)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(report))
    else:
        for note in report["skipped"]:
            print(f"skipped: {note}")
        for case in report["cases"]:
            top = list(case["statement_kinds_per_event"].items())[:8]
            print(
                f"{case['database']} x{case['workers']} statements per event by kind: "
                + ", ".join(f"{name} {n}" for name, n in top)
            )
    if not all(c["drained"] for c in report["cases"]):
        raise SystemExit("error: the inbox was not drained")


if __name__ == "__main__":
    main()
