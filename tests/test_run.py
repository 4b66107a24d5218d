"""`python -m integration run`: the all-in-one process starts, serves, and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests


def start(tmp_path: Path, database_url: str, **settings: str) -> subprocess.Popen[str]:
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url, "PORT": "0"}
    env.update(settings)
    return subprocess.Popen(
        [sys.executable, "-m", "integration", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_run_prints_where_it_listens_serves_healthz_and_stops_cleanly(
    tmp_path: Path, database_url: str
) -> None:
    process = start(tmp_path, database_url)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(
            r"listening on (http://127\.0\.0\.1:\d+) database=(\S+) "
            r"zoho-write-back=(dry-run|live)$",
            line.strip(),
        )
        assert match, line
        assert match.group(3) == "dry-run"
        assert requests.get(f"{match.group(1)}/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{match.group(1)}/readyz", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_run_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    process = start(tmp_path, f"sqlite:///{tmp_path}/empty.db")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1].startswith("error: database at revision none, code needs")


def test_run_never_logs_the_webhook_token(tmp_path: Path, database_url: str) -> None:
    process = start(tmp_path, database_url, WEBHOOK_AUTH="token", WEBHOOK_TOKEN="sup3r-s3cret")
    try:
        assert process.stdout is not None
        base = process.stdout.readline().split()[2]
        body = [{"eventType": "Ticket_Delete", "payload": {"id": "1"}}]
        ok = requests.post(f"{base}/webhooks/zoho-desk?token=sup3r-s3cret", json=body, timeout=10)
        bad = requests.post(f"{base}/webhooks/zoho-desk?token=wrong-guess", json=body, timeout=10)
        assert (ok.status_code, bad.status_code) == (200, 401)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert "POST /webhooks/zoho-desk?token=*** HTTP" in err
    assert "sup3r-s3cret" not in err and "wrong-guess" not in err
