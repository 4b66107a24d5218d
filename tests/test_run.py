"""`python -m integration run`: the all-in-one process starts, serves, and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.real_clock("runs the service in a process of its own")


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


def ready_within(base: str, seconds: float = 10) -> int:
    """The readiness status once the worker and clock threads have beaten (they do at once)."""
    deadline = time.monotonic() + seconds
    while True:
        code = requests.get(f"{base}/readyz", timeout=10).status_code
        if code == 200 or time.monotonic() > deadline:
            return code
        time.sleep(0.1)


def test_run_prints_where_it_listens_serves_healthz_and_stops_cleanly(
    tmp_path: Path, database_url: str
) -> None:
    process = start(tmp_path, database_url, WEBHOOK_AUTH="token", WEBHOOK_TOKEN="t0ken")
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
        assert ready_within(match.group(1)) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "warning: not ready" not in err


def test_run_prints_one_warning_line_naming_the_missing_webhook_setting(
    tmp_path: Path, database_url: str
) -> None:
    process = start(tmp_path, database_url)  # WEBHOOK_AUTH=jwt by default, no ZOHO_WEBHOOK_ID
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on ")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    warnings = [line for line in err.splitlines() if line.startswith("warning: not ready")]
    assert warnings == [
        "warning: not ready: webhook_auth: WEBHOOK_AUTH=jwt needs ZOHO_ORG_ID and "
        "ZOHO_WEBHOOK_ID: every delivery is refused (401)"
    ]


def test_gunicorn_prints_the_same_startup_line_once_and_the_warning(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "ZOHO_ORG_ID": "1",
        "ZOHO_CLIENT_ID": "id",
        "ZOHO_CLIENT_SECRET": "very-secret",
        "WEBHOOK_AUTH": "token",
        "WEBHOOK_TOKEN": "t0ken",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(
        [gunicorn, "-c", "python:integration.gunicorn_conf", "--bind", "127.0.0.1:0",
         "--workers", "2", "integration.app:create_app()"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert re.fullmatch(
            r"listening on http://127\.0\.0\.1:\d+ database=\S+ zoho-write-back=dry-run", line
        ), line
        base = line.split()[2]
        assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        expected = 1 if database_url.startswith("sqlite") else 2
        deadline = time.monotonic() + 10  # gunicorn spawns its workers one after another
        while len(children(process.pid)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        web_processes = len(children(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert "listening on" not in out  # once, by the master, not once per worker
    if database_url.startswith("sqlite"):  # one writer: one web process, with all the threads
        assert web_processes == 1
        assert "note: SQLite: one web process with 2 threads (SQLite has one writer)" in err
    else:
        assert web_processes == 2
    warnings = [line for line in err.splitlines() if line.startswith("warning: not ready")]
    assert warnings == [
        "warning: not ready: zoho_auth: ZOHO_REFRESH_TOKEN not set: Zoho credentials are half "
        "configured (set all four for live write-back, none for dry-run)"
    ]
    assert "very-secret" not in err + out


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


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
