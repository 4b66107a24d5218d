"""Benchmark: webhook ingest under the Procfile's gunicorn, against a bare Flask app.

Each run, per database:

1. a fresh database (a SQLite file in a temporary folder, or a PostgreSQL database of its own,
   dropped after), migrated;
2. the service's web process started exactly as the Procfile's `web` line says (gunicorn with
   `-c python:integration.gunicorn_conf`, WEB_WORKERS/WEB_THREADS defaults 2/4, read from the
   Procfile), on a free loopback port, dry-run, authenticating deliveries as Zoho signs them
   (`WEBHOOK_AUTH=jwt`, the README's production mode: RS256 `X-ZDesk-JWT`, keys from the fake
   Zoho Desk's JWKS, fetched once per gunicorn worker); `--auth token` uses `?token=` instead;
3. a warm-up (one delivery per new connection, so every gunicorn worker has the JWKS), then N
   deliveries of one Ticket_Add each, of distinct tickets (bodies like examples/ticket_add.json),
   sent by C clients, each a keep-alive HTTP connection in a thread of one of P load-generator
   processes (multiprocessing: the clients' CPU is not the measured process's);
4. acks/s (deliveries answered 200 / wall time of the load), p50/p99/max of the round trip, the
   peak RSS (VmHWM) of the gunicorn master and workers; then every acked delivery is checked to
   be in the inbox (rows counted: a lost event fails the benchmark, exit 1);
5. the same load against `bench/bare_app.py` under the same gunicorn command line and config:
   what gunicorn + Flask alone can ack; the ratio service / bare.

`--runs R` gives min / median / max over the runs. `--json` prints one JSON object.

    python bench/bench_ingest.py [--db sqlite|postgresql|both] [--deliveries 2000] [--clients 16]
        [--runs 1] [--client-procs 4] [--auth jwt|token] [--json]

The issue's figures: `--deliveries 5000 --clients 16 --runs 3 --db both`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib
from benchlib import WEBHOOK_PATH, FreshDatabase

TOKEN = "bench-ingest-token"


# ---- the load generator (runs in its own processes) -----------------------------------------


def _client_thread(
    port: int,
    target: str,
    headers: dict[str, str],
    bodies: list[bytes],
    barrier: Any,
    out: dict[str, Any],
) -> None:
    latencies: list[float] = []
    refused: list[str] = []
    reconnects = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    barrier.wait()
    first = time.monotonic()
    for body in bodies:
        for attempt in (1, 2):
            began = time.monotonic()
            try:
                connection.request("POST", target, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError) as exc:
                # The server closed a kept-alive connection: reconnect and send again (the
                # inbox deduplicates a delivery sent twice). A second failure is a refusal.
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                reconnects += 1
                if attempt == 2:
                    refused.append(type(exc).__name__)
                continue
            elapsed = time.monotonic() - began
            if response.status == 200:
                latencies.append(elapsed)
            else:
                refused.append(f"{response.status} {data[:200]!r}")
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                reconnects += 1
            break
    out.update(
        latencies=latencies,
        refused=refused,
        reconnects=reconnects,
        first=first,
        last=time.monotonic(),
    )
    connection.close()


def load_process(
    port: int,
    target: str,
    headers: dict[str, str],
    slices: list[list[int]],
    now_iso: str,
    barrier: Any,
    results: Any,
) -> None:
    """One load-generator process: a thread (and a keep-alive connection) per slice of tickets."""
    now = datetime.fromisoformat(now_iso)
    bodies = [[benchlib.delivery([benchlib.add_event(i, now)]) for i in part] for part in slices]
    outs: list[dict[str, Any]] = [{} for _ in slices]
    threads = [
        threading.Thread(target=_client_thread, args=(port, target, headers, b, barrier, o))
        for b, o in zip(bodies, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(outs)


# ---- one measured server --------------------------------------------------------------------


def start_gunicorn(
    app_spec: str, env: dict[str, str], log_path: Path, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], int]:
    port = benchlib.free_port()
    argv = benchlib.gunicorn_command(app_spec, port, args.web_workers, args.web_threads)
    log = open(log_path, "ab")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(argv, cwd=benchlib.ROOT, env=env, stdout=log, stderr=log)
    try:
        benchlib.wait_http(port)
    except BaseException:
        benchlib.stop_process(process)
        sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
        raise
    return process, port


def warm_up(port: int, target: str, headers: dict[str, str], now: datetime, count: int) -> int:
    """`count` deliveries, each on a new connection (so each gunicorn worker gets some)."""
    for i in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = benchlib.delivery([benchlib.add_event(i, now)])
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        if response.status != 200:
            raise SystemExit(f"warm-up delivery refused: {response.status} {data[:300]!r}")
    return count


def load(
    port: int,
    target: str,
    headers: dict[str, str],
    first: int,
    args: argparse.Namespace,
    now: datetime,
) -> dict[str, Any]:
    """N deliveries of tickets first..first+N-1 from C clients in P processes."""
    tickets = list(range(first, first + args.deliveries))
    clients = [tickets[c :: args.clients] for c in range(args.clients)]
    procs = max(1, min(args.client_procs, args.clients))
    context = mp.get_context("spawn")
    barrier = context.Barrier(args.clients + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=load_process,
            args=(port, target, headers, clients[p::procs], now.isoformat(), barrier, results),
        )
        for p in range(procs)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)  # every client connected
    outs = [out for _ in processes for out in results.get(timeout=600)]
    for process in processes:
        process.join()
    latencies = sorted(lat for out in outs for lat in out["latencies"])
    refused = [r for out in outs for r in out["refused"]]
    wall = max(out["last"] for out in outs) - min(out["first"] for out in outs)
    return {
        "acked": len(latencies),
        "refused": len(refused),
        "refused_sample": refused[:3],
        "reconnects": sum(out["reconnects"] for out in outs),
        "wall_s": round(wall, 3),
        "acks_per_s": round(len(latencies) / wall, 1),
        "p50_ms": benchlib.percentile_ms(latencies, 0.50),
        "p99_ms": benchlib.percentile_ms(latencies, 0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
    }


def measure(
    app_spec: str,
    database: FreshDatabase,
    fake_url: str,
    token: str,
    args: argparse.Namespace,
    label: str,
) -> dict[str, Any]:
    env = benchlib.service_env(
        {
            "DATABASE_URL": database.url,
            "WEBHOOK_AUTH": args.auth,
            "WEBHOOK_TOKEN": TOKEN,
            "ZOHO_ORG_ID": benchlib.ORG_ID,
            "ZOHO_WEBHOOK_ID": benchlib.WEBHOOK_ID,
            "ZOHO_DESK_BASE_URL": fake_url,  # the JWKS; no OAuth credentials: dry-run
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(benchlib.BENCH), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    headers = {"Content-Type": "application/json"}
    target = WEBHOOK_PATH
    if args.auth == "jwt":
        headers["X-ZDesk-JWT"] = token
    else:
        target += f"?token={TOKEN}"
    now = datetime.now(UTC)
    process, port = start_gunicorn(app_spec, env, Path(database.workdir) / f"{label}.log", args)
    try:
        warmed = warm_up(port, target, headers, now, args.warmup)
        figures = load(port, target, headers, warmed, args, now)
        peaks = benchlib.tree_peak_rss_mb(process.pid)
    finally:
        benchlib.stop_process(process)
    workers = [v for k, v in peaks.items() if k != "master"]
    figures["peak_rss_mb"] = {
        "master": peaks.get("master"),
        "workers_max": max(workers) if workers else None,
        "workers": workers,
    }
    figures["warmup"] = warmed
    return figures


def verify(database: FreshDatabase, figures: dict[str, Any]) -> None:
    """Every acked delivery (one event each) must be an inbox row."""
    counts = benchlib.inbox_counts(database.url)
    stored = sum(counts.values())
    expected = figures["warmup"] + figures["acked"]
    figures["inbox_rows"] = stored
    figures["inbox_by_status"] = counts
    figures["lost"] = max(0, expected - stored)
    figures["verified"] = stored >= expected and set(counts) <= {"pending"}


def one_run(kind: str, fake: Any, token: str, args: argparse.Namespace, run: int) -> dict[str, Any]:
    with FreshDatabase(kind, "ingest", args.postgres_url) as database:
        service = measure(
            "integration.app:create_app()", database, fake.url, token, args, f"service-{run}"
        )
        verify(database, service)
        bare = measure("bare_app:create_app()", database, fake.url, token, args, f"bare-{run}")
    return {
        "service": service,
        "bare": bare,
        "ratio": round(service["acks_per_s"] / bare["acks_per_s"], 3),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def of(side: str, key: str) -> list[float]:
        return [r[side][key] for r in runs]

    return {
        "acks_per_s": benchlib.spread(of("service", "acks_per_s"), 1),
        "p50_ms": benchlib.spread(of("service", "p50_ms")),
        "p99_ms": benchlib.spread(of("service", "p99_ms")),
        "max_ms": benchlib.spread(of("service", "max_ms")),
        "bare_acks_per_s": benchlib.spread(of("bare", "acks_per_s"), 1),
        "bare_p99_ms": benchlib.spread(of("bare", "p99_ms")),
        "ratio": benchlib.spread([r["ratio"] for r in runs], 3),
        "peak_rss_mb_master": max(r["service"]["peak_rss_mb"]["master"] or 0 for r in runs),
        "peak_rss_mb_worker": max(r["service"]["peak_rss_mb"]["workers_max"] or 0 for r in runs),
        "bare_peak_rss_mb_worker": max(r["bare"]["peak_rss_mb"]["workers_max"] or 0 for r in runs),
        "refused": sum(r["service"]["refused"] + r["bare"]["refused"] for r in runs),
        "lost": sum(r["service"]["lost"] for r in runs),
        "verified": all(r["service"]["verified"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-procs", type=int, default=4, help="load-generator processes")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--auth", choices=["jwt", "token"], default="jwt")
    parser.add_argument("--web-workers", type=int, default=2, help="WEB_WORKERS (Procfile: 2)")
    parser.add_argument("--web-threads", type=int, default=4, help="WEB_THREADS (Procfile: 4)")
    parser.add_argument("--postgres-url", default=benchlib.DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from integration.zoho.fake import FakeDesk
    from integration.zoho.fake_server import FakeZohoServer

    started = time.monotonic()
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "machine": benchlib.machine(),
        "config": {
            "deliveries": args.deliveries,
            "clients": args.clients,
            "client_procs": args.client_procs,
            "runs": args.runs,
            "auth": args.auth,
            "web_workers": args.web_workers,
            "web_threads": args.web_threads,
            "command": " ".join(
                benchlib.gunicorn_command("APP", 0, args.web_workers, args.web_threads)[1:]
            ),
        },
        "databases": {},
    }
    with FakeZohoServer(FakeDesk(org_id=benchlib.ORG_ID)) as fake:
        token = fake.signer.sign(benchlib.ORG_ID, benchlib.WEBHOOK_ID, lifetime_s=6 * 3600)
        for kind in benchlib.databases(args.db, args.postgres_url):
            runs = []
            for run in range(args.runs):
                runs.append(one_run(kind, fake, token, args, run))
                if not args.json:
                    r = runs[-1]
                    print(
                        f"{kind} run {run + 1}: service {r['service']['acks_per_s']} acks/s "
                        f"p50 {r['service']['p50_ms']} ms p99 {r['service']['p99_ms']} ms; "
                        f"bare {r['bare']['acks_per_s']} acks/s; ratio {r['ratio']}; "
                        f"inbox {r['service']['inbox_rows']} rows, lost {r['service']['lost']}",
                        flush=True,
                    )
            report["databases"][kind] = summarise(runs)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    lost = any(not d["verified"] for d in report["databases"].values())
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"\ningest: {args.deliveries} deliveries, {args.clients} clients, {args.runs} run(s)"
            f", auth {args.auth}; min / median / max"
        )
        for kind, d in report["databases"].items():
            print(f"  {kind}:")
            print(f"    acks/s            {benchlib.shown(d['acks_per_s'])}")
            print(f"    p50 ms            {benchlib.shown(d['p50_ms'])}")
            print(f"    p99 ms            {benchlib.shown(d['p99_ms'])}")
            print(f"    bare acks/s       {benchlib.shown(d['bare_acks_per_s'])}")
            print(f"    service / bare    {benchlib.shown(d['ratio'])}")
            print(
                f"    peak RSS MB       master {d['peak_rss_mb_master']}, "
                f"worker {d['peak_rss_mb_worker']} (bare worker "
                f"{d['bare_peak_rss_mb_worker']})"
            )
            print(
                f"    inbox check       {'ok' if d['verified'] else 'EVENTS LOST'} "
                f"(lost {d['lost']}, refused {d['refused']})"
            )
    if lost:
        raise SystemExit("error: acked deliveries missing from the inbox")


if __name__ == "__main__":
    main()
