"""Benchmark: webhook acknowledgement latency and worker throughput.

Setup: the service's web app on a local port (the threaded server `run` uses), JWT-authenticated
deliveries signed by the fake Zoho Desk (JWKS fetched once, then cached), a fresh SQLite database
(or DATABASE_URL if given), dry-run write-back. Each delivery is one Ticket_Add of a distinct
ticket with a seed-example subject.

1. Ack latency: N deliveries from C concurrent senders; p50/p95/p99/max of the HTTP round trip,
   against Zoho's 5 s limit.
2. Worker throughput: the stored events applied by one worker (classify, deadlines, outbox,
   dry-run write-back), events per second.

Prints figures; `--json` prints one JSON object. Run: `python bench/bench_pipeline.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from werkzeug.serving import make_server

from integration import db
from integration.app import create_app
from integration.config import settings_from_mapping
from integration.pipeline.worker import Worker
from integration.zoho.client import zoho_time
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import FakeZohoServer, event

SUBJECTS = ["Servicio caído", "Ataque masivo de SPAM", "Configurar Outlook", "Licencia Zoho"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-pipeline-")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
    db.upgrade(url)
    desk = FakeDesk()
    with FakeZohoServer(desk) as zoho:
        settings = settings_from_mapping(
            {
                "DATABASE_URL": url,
                "ZOHO_DESK_BASE_URL": zoho.url,
                "ZOHO_ORG_ID": desk.org_id,
                "ZOHO_WEBHOOK_ID": "bench",
                "WEBHOOK_AUTH": "jwt",
                "WORKER_BATCH": "100",
                "LOG_LEVEL": "WARNING",
            }
        )
        app = create_app(settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        target = f"http://127.0.0.1:{server.port}/webhooks/zoho-desk"
        token = zoho.signer.sign(desk.org_id, "bench", lifetime_s=3600)
        bodies = []
        for i in range(args.deliveries):
            ticket = {
                "id": str(900000000000000000 + i),
                "subject": SUBJECTS[i % len(SUBJECTS)],
                "status": "Open",
                "statusType": "Open",
                "createdTime": zoho_time(desk.now()),
                "modifiedTime": zoho_time(desk.now()),
            }
            bodies.append(json.dumps([event("Ticket_Add", ticket, desk.org_id)]))
        session_local = threading.local()

        def send(body: str) -> float:
            http = getattr(session_local, "http", None) or requests.Session()
            session_local.http = http
            began = time.perf_counter()
            response = http.post(
                target,
                data=body,
                timeout=10,
                headers={"Content-Type": "application/json", "X-ZDesk-JWT": token},
            )
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"delivery refused: {response.status_code} {response.text}")
            return elapsed

        send(bodies[0])  # warm-up: fetches the JWKS once
        began = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            latencies = sorted(pool.map(send, bodies[1:]))
        ack_wall = time.perf_counter() - began

        worker = Worker(app.extensions["integration"])
        began = time.perf_counter()
        worker.run_until_idle(max_rounds=100_000)
        work_wall = time.perf_counter() - began
        server.shutdown()
        app.extensions["integration"].dispose()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    figures = {
        "database": url.split(":", 1)[0],
        "deliveries": len(latencies),
        "concurrency": args.concurrency,
        "ack_p50_ms": pct(0.50),
        "ack_p95_ms": pct(0.95),
        "ack_p99_ms": pct(0.99),
        "ack_max_ms": round(latencies[-1] * 1000, 2),
        "ack_mean_ms": round(statistics.mean(latencies) * 1000, 2),
        "deliveries_per_s": round(len(latencies) / ack_wall, 1),
        "zoho_limit_ms": 5000,
        "worker_events": args.deliveries,
        "worker_events_per_s": round(args.deliveries / work_wall, 1),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
