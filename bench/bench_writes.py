"""Benchmark: live write-back throughput against the fake Zoho Desk with a latency per call.

Setup: the fake Zoho Desk on a local port answering every API call after `--latency-ms` (served
from a forked process, so that its work does not share the worker's interpreter lock; `--inline`
serves it from a thread of the benchmark's process instead), a fresh SQLite database (or
DATABASE_URL if given), live write-back with `ZOHO_MAX_CONCURRENCY=--cap`. `--events` new
tickets are created in the fake and their Ticket_Add events stored in the inbox (as the receiver
would); then one worker runs until idle: each event is applied (Zoho's state fetched) and each
ticket written back (GET, PATCH, the assignment comment). Calls are counted by the client.

Figures: Zoho calls per event by kind, events per second, and the ratio to the bound the cap
allows, cap / (calls per event x latency). Run: `python bench/bench_writes.py`.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from integration import db
from integration.container import build_container
from integration.pipeline.inbox import parse_delivery, store
from integration.pipeline.worker import Worker
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import FakeZohoServer, event

SUBJECTS = ["Servicio caído", "Ataque masivo de SPAM", "Configurar Outlook", "Licencia Zoho"]


def _serve(desk: FakeDesk, port: int) -> None:
    FakeZohoServer(desk, port=port).serve_forever()


@contextmanager
def fake_zoho(desk: FakeDesk, inline: bool) -> Iterator[str]:
    """The fake's URL while it serves `desk` (a copy of it, from a forked process, unless
    `inline`)."""
    if inline:
        with FakeZohoServer(desk) as server:
            yield server.url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(desk, port))
    child.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{url}/.well-known/jwks.json", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.join()


def zoho_calls(container: Any) -> Counter[str]:
    """The client's own count of its Zoho calls (sla_zoho_calls), by method and endpoint."""
    counted: Counter[str] = Counter()
    for family in container.metrics.registry.collect():
        if family.name != "sla_zoho_calls":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.value:
                counted[f"{sample.labels['method']} {sample.labels['endpoint']}"] += int(
                    sample.value
                )
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--cap", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--inline", action="store_true", help="serve the fake from a thread")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    workdir = tempfile.mkdtemp(prefix="bench-writes-")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
    db.upgrade(url)
    desk = FakeDesk()
    tickets = [desk.create_ticket(subject=SUBJECTS[i % len(SUBJECTS)]) for i in range(args.events)]
    desk.latency_s = args.latency_ms / 1000
    with fake_zoho(desk, args.inline) as zoho_url:
        container = build_container(
            {
                "DATABASE_URL": url,
                "ZOHO_DESK_BASE_URL": zoho_url,
                "ZOHO_ACCOUNTS_URL": zoho_url,
                "ZOHO_ORG_ID": desk.org_id,
                "ZOHO_CLIENT_ID": desk.client_id,
                "ZOHO_CLIENT_SECRET": desk.client_secret,
                "ZOHO_REFRESH_TOKEN": desk.refresh_token,
                "ZOHO_MAX_CONCURRENCY": str(args.cap),
                "WORKER_BATCH": str(args.batch),
                "WEBHOOK_AUTH": "token",
                "WEBHOOK_TOKEN": "bench",
                "LOG_LEVEL": "WARNING",
            }
        )
        raw = json.dumps([event("Ticket_Add", t, desk.org_id) for t in tickets]).encode()
        with db.transaction(container.sessions) as session:
            store(
                session,
                parse_delivery(raw, payload_is_history=False),
                source="webhook",
                now=container.clock(),
            )
        container.desk.tokens.access_token()  # type: ignore[union-attr]  # not timed
        worker = Worker(container)
        began = time.perf_counter()
        try:
            worker.run_until_idle(max_rounds=100_000)
        finally:
            elapsed = time.perf_counter() - began
            worker.close()
        calls = zoho_calls(container)
        container.dispose()

    total = sum(calls.values())
    per_event = total / args.events
    bound = args.cap / (per_event * args.latency_ms / 1000) if args.latency_ms else float("inf")
    rate = args.events / elapsed
    figures = {
        "database": url.split(":", 1)[0],
        "events": args.events,
        "latency_ms": args.latency_ms,
        "cap": args.cap,
        "calls_per_event": round(per_event, 2),
        "calls": dict(sorted((k, round(v / args.events, 2)) for k, v in calls.items())),
        "seconds": round(elapsed, 2),
        "events_per_s": round(rate, 1),
        "bound_events_per_s": round(bound, 1),
        "ratio_to_bound": round(rate / bound, 2),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:20} {value}")


if __name__ == "__main__":
    main()
