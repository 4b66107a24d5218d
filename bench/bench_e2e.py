"""Benchmark: end to end in live mode, against a fake Zoho Desk that answers each API call in
50 ms, with the service's cap on parallel Zoho calls (`ZOHO_MAX_CONCURRENCY`) at 4.

Per database:

1. the fake Zoho Desk (integration/zoho/fake_server.py) on a loopback port, every `/api/v1`
   call answered `--latency-ms` late, holding N tickets (like examples/ticket_add.json, distinct
   ids; unassigned, as that example: `--assigned` gives each an assignee, so the first
   assignment's comment is posted too);
2. a fresh, migrated database; the web process as the Procfile starts it (gunicorn), live mode
   (the four ZOHO_* credentials of the fake), deliveries authenticated by Zoho's JWT; one
   Ticket_Add delivery per ticket sent to it (not timed: bench_ingest measures that);
3. then the worker as the Procfile starts it (`python -m integration worker`), timed from its
   start-up line until the inbox and the outbox hold nothing pending or processing (polled every
   `--poll-ms`);
4. events/s; Zoho calls per event by kind, from the fake's request log (GET ticket, PATCH
   ticket, GET/POST comments, threads, tags, token...); the cap's bound, cap / (calls per event x
   latency): the events/s the service would reach if it kept `cap` calls in flight all the time;
   the ratio of the two; the peak RSS of the web processes and of the worker. Every ticket must
   end written (`outbox` done, the SLA status field set in the fake), else exit 1.

`--json` prints one JSON object.

    python bench/bench_e2e.py [--db sqlite|postgresql|both] [--events 100] [--latency-ms 50]
        [--cap 4] [--assigned] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib
from benchlib import WEBHOOK_PATH, FreshDatabase

HUMAN_AGENT = "432100000000056007"
_ID = re.compile(r"/\d{6,}")


def call_kind(method: str, path: str) -> str:
    """`GET ticket`, `PATCH ticket`, `POST comments`, `GET threads`, `token`, ...."""
    if path.startswith("/oauth/"):
        return "token"
    if path.startswith("/.well-known"):
        return "jwks"
    parts = [p for p in path.removeprefix("/api/v1/").split("/") if p]
    if len(parts) == 2 and parts[0] == "tickets" and parts[1] != "search":
        return f"{method} ticket"
    if len(parts) >= 3 and parts[0] == "tickets":
        return f"{method} {parts[2]}"
    return f"{method} {_ID.sub('/{id}', '/' + '/'.join(parts))}"


def worker_command() -> list[str]:
    """The Procfile's `worker` line, with this interpreter as its `python`."""
    argv = shlex.split(benchlib.procfile_line("worker"))
    if argv[0] != "python":
        raise SystemExit(f"the Procfile's worker line changed, update bench: {argv}")
    return [sys.executable, *argv[1:]]


def deliver_all(port: int, token: str, bodies: list[bytes]) -> None:
    headers = {"Content-Type": "application/json", "X-ZDesk-JWT": token}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        connection.request("POST", WEBHOOK_PATH, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"delivery refused: {response.status} {data[:300]!r}")
    connection.close()


def wait_line(path: Path, prefix: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and any(
            line.startswith(prefix) for line in path.read_text(errors="replace").splitlines()
        ):
            return
        if process.poll() is not None:
            raise SystemExit(f"the worker exited ({process.returncode}); see {path}")
        time.sleep(0.005)
    raise SystemExit(f"the worker printed no start-up line in {timeout_s} s")


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import text

    from integration import db
    from integration.zoho.fake import FakeDesk
    from integration.zoho.fake_server import FakeZohoServer

    now = datetime.now(UTC)
    desk = FakeDesk(org_id=benchlib.ORG_ID)
    bodies = []
    for i in range(args.events):
        payload = benchlib.ticket_payload(i, now - timedelta(minutes=5) + timedelta(seconds=i))
        if args.assigned:
            payload["assigneeId"] = HUMAN_AGENT
        desk.create_ticket(**dict(payload))
        bodies.append(benchlib.delivery([benchlib.zoho_event("Ticket_Add", payload, now)]))
    fake = FakeZohoServer(desk, latency_s=args.latency_ms / 1000).start()
    try:
        with FreshDatabase(kind, "e2e", args.postgres_url) as database:
            env = benchlib.service_env(
                {
                    "DATABASE_URL": database.url,
                    "ZOHO_DESK_BASE_URL": fake.url,
                    "ZOHO_ACCOUNTS_URL": fake.url,
                    "ZOHO_ORG_ID": desk.org_id,
                    "ZOHO_CLIENT_ID": desk.client_id,
                    "ZOHO_CLIENT_SECRET": desk.client_secret,
                    "ZOHO_REFRESH_TOKEN": desk.refresh_token,
                    "ZOHO_MAX_CONCURRENCY": str(args.cap),
                    "WEBHOOK_AUTH": "jwt",
                    "ZOHO_WEBHOOK_ID": benchlib.WEBHOOK_ID,
                }
            )
            workdir = Path(database.workdir)
            port = benchlib.free_port()
            web_log = open(workdir / "web.log", "ab")  # noqa: SIM115 (closed below)
            web = subprocess.Popen(
                benchlib.gunicorn_command("integration.app:create_app()", port, 2, 4),
                cwd=benchlib.ROOT,
                env=env,
                stdout=web_log,
                stderr=web_log,
            )
            worker = None
            try:
                benchlib.wait_http(port)
                token = fake.signer.sign(desk.org_id, benchlib.WEBHOOK_ID, lifetime_s=3600)
                began = time.monotonic()
                deliver_all(port, token, bodies)
                ingest_s = time.monotonic() - began
                stored = sum(benchlib.inbox_counts(database.url).values())
                if stored != args.events:
                    raise SystemExit(f"{stored} events stored, {args.events} delivered")
                with desk._lock:
                    first_call = len(desk.requests)
                out_path, err_path = workdir / "worker.out", workdir / "worker.log"
                with open(out_path, "wb") as out, open(err_path, "wb") as err:
                    worker = subprocess.Popen(
                        worker_command(), cwd=benchlib.ROOT, env=env, stdout=out, stderr=err
                    )
                wait_line(out_path, "worker:", worker, 60)
                start = time.monotonic()
                engine = db.make_engine(database.url)
                busy = "('pending', 'processing')"
                query = text(
                    f"SELECT (SELECT count(*) FROM inbox_events WHERE status IN {busy}) "
                    f"+ (SELECT count(*) FROM outbox WHERE status IN {busy})"
                )
                deadline = start + args.timeout
                try:
                    while time.monotonic() < deadline:
                        with engine.connect() as connection:
                            if not connection.execute(query).scalar():
                                break
                        time.sleep(args.poll_ms / 1000)
                    end = time.monotonic()
                finally:
                    engine.dispose()
                rss = {
                    "worker": benchlib.peak_rss_mb(worker.pid),
                    "web": benchlib.tree_peak_rss_mb(web.pid),
                }
            finally:
                if worker is not None:
                    benchlib.stop_process(worker)
                benchlib.stop_process(web)
                web_log.close()
            inbox, outbox = benchlib.queue_counts(database.url)
    finally:
        fake.stop()
    with desk._lock:
        calls = [(r.method, r.path) for r in desk.requests[first_call:]]
        written = sum(1 for t in desk.tickets.values() if (t.get("cf") or {}).get("cf_sla_status"))
    kinds = Counter(call_kind(m, p) for m, p in calls)
    api_calls = sum(n for k, n in kinds.items() if k not in ("token", "jwks"))
    wall = end - start
    events_per_s = args.events / wall
    calls_per_event = api_calls / args.events
    bound = args.cap / (calls_per_event * args.latency_ms / 1000) if api_calls else float("inf")
    web_workers = [v for k, v in rss["web"].items() if k != "master"]
    return {
        "database": kind,
        "events": args.events,
        "assigned": args.assigned,
        "latency_ms": args.latency_ms,
        "cap": args.cap,
        "ingest_s": round(ingest_s, 2),
        "wall_s": round(wall, 2),
        "events_per_s": round(events_per_s, 2),
        "zoho_calls": api_calls,
        "calls_per_event": round(calls_per_event, 2),
        "calls_per_event_by_kind": {
            k: round(n / args.events, 2) for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])
        },
        "cap_bound_events_per_s": round(bound, 1),
        "ratio_to_bound": round(events_per_s / bound, 3),
        "mean_calls_in_flight": round(api_calls * args.latency_ms / 1000 / wall, 2),
        "peak_rss_mb": {
            "worker": rss["worker"],
            "web_master": rss["web"].get("master"),
            "web_workers_max": max(web_workers) if web_workers else None,
        },
        "inbox_after": inbox,
        "outbox_after": outbox,
        "tickets_written": written,
        "complete": written == args.events and set(outbox) <= {"done"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=100, help="tickets, one Ticket_Add each")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--cap", type=int, default=4, help="ZOHO_MAX_CONCURRENCY")
    parser.add_argument("--assigned", action="store_true", help="tickets with an assignee")
    parser.add_argument("--poll-ms", type=float, default=20, help="drain check interval")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--postgres-url", default=benchlib.DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.monotonic()
    report: dict[str, Any] = {"benchmark": "e2e", "machine": benchlib.machine(), "cases": []}
    for kind in benchlib.databases(args.db, args.postgres_url):
        case = measure(kind, args)
        report["cases"].append(case)
        if not args.json:
            print(
                f"{kind}: {case['events']} events in {case['wall_s']} s = "
                f"{case['events_per_s']} events/s; {case['calls_per_event']} Zoho calls/event "
                f"{case['calls_per_event_by_kind']}; cap bound {case['cap_bound_events_per_s']}"
                f"/s, ratio {case['ratio_to_bound']}; {case['mean_calls_in_flight']} calls in "
                f"flight on average; peak RSS {case['peak_rss_mb']} MB; "
                f"{case['tickets_written']}/{case['events']} tickets written",
                flush=True,
            )
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(report))
    if not all(c["complete"] for c in report["cases"]):
        raise SystemExit("error: not every ticket was written back")


if __name__ == "__main__":
    main()
