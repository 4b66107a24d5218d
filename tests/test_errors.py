"""Errors a person can fix: one line on stderr naming what to fix, exit code 2, no traceback.

The `release` step (`db upgrade`), the processes (`run`, `worker`, `clock`) and `sla compute`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from integration.cli import main
from integration.db import describe_error
from tests.conftest import TEST_DATABASE_URL, on_postgres


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    _, err = capsys.readouterr()
    return code, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", ""), **env}
    return subprocess.run(
        [sys.executable, "-m", "integration", *args],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- the release step: db upgrade / db current ---


@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "current"]])
def test_db_commands_name_the_host_and_the_cause_when_postgresql_is_unreachable(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://ops:hunter22@127.0.0.1:{port}/sla")
    code, err = cli(capsys, *command)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: database postgresql+psycopg://ops:***@127.0.0.1:{port}/sla: ")
    assert "Connection refused" in line
    assert "hunter22" not in err


def test_db_upgrade_names_a_host_that_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://ops:hunter22@db.example.invalid/sla")
    code, err = cli(capsys, "db", "upgrade")
    line = one_line(err)
    assert code == 2
    assert line.startswith("error: database postgresql+psycopg://ops:***@db.example.invalid/sla: ")
    assert "hunter22" not in err


@pytest.mark.skipif(not on_postgres(), reason="needs a PostgreSQL server (TEST_DATABASE_URL)")
def test_db_current_says_the_database_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = make_url(TEST_DATABASE_URL).set(database="no_such_database_ops2")
    monkeypatch.setenv("DATABASE_URL", missing.render_as_string(hide_password=False))
    code, err = cli(capsys, "db", "current")
    line = one_line(err)
    assert code == 2
    assert line.endswith('database "no_such_database_ops2" does not exist')


def test_a_sqlite_url_into_a_missing_folder_is_refused_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}/x.db")
    code, err = cli(capsys, "db", "upgrade")
    assert code == 2
    assert one_line(err) == (
        f"error: DATABASE_URL: the folder {missing} does not exist (create it, or correct the URL)"
    )
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_instance_folder_is_still_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "instance" / "integration.db").is_file()


def test_a_database_error_never_shows_the_password() -> None:
    url = "postgresql+psycopg://ops:hunter22@db.internal/sla"
    cause = Exception('connection to "postgresql://ops:hunter22@db.internal" failed\nDETAIL: x')
    error = OperationalError("SELECT 1", {}, cause)
    assert describe_error(error, url) == 'connection to "postgresql://ops:***@db.internal" failed'


# --- the processes: run, worker, clock ---


@pytest.mark.parametrize("command", ["worker", "clock"])
@pytest.mark.real_clock("runs the command in a process of its own")
def test_worker_and_clock_refuse_an_unmigrated_database_at_once(
    command: str, tmp_path: Path
) -> None:
    result = process(tmp_path, command, DATABASE_URL=f"sqlite:///{tmp_path}/empty.db")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("error: database at revision none, code needs ")


@pytest.mark.real_clock("runs the command in a process of its own")
def test_run_names_the_port_in_use(tmp_path: Path, database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = process(tmp_path, "run", DATABASE_URL=database_url, PORT=str(port))
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"error: PORT: 127.0.0.1:{port} is already in use (is the service already running? "
        "set PORT to another port)"
    )


@pytest.mark.real_clock("runs the command in a process of its own")
def test_run_names_a_host_that_does_not_resolve(tmp_path: Path, database_url: str) -> None:
    result = process(tmp_path, "run", DATABASE_URL=database_url, HOST="web.example.invalid")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("error: HOST: cannot resolve 'web.example.invalid' (")


def test_a_webhook_on_an_unmigrated_database_logs_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from integration.app import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
            "WEBHOOK_AUTH": "token",
            "WEBHOOK_TOKEN": "t",
        }
    )
    try:
        body = [{"eventType": "Ticket_Delete", "payload": {"id": "1"}}]
        answer = app.test_client().post("/webhooks/zoho-desk?token=t", json=body)
    finally:
        app.extensions["integration"].dispose()
    assert answer.status_code == 503
    assert "webhook not stored, database unavailable: no such table: inbox_events" in caplog.text


# --- sla compute: a supported range of years ---


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--created", "0001-01-01T00:00:00"),
        ("--created", "9999-12-31T00:00:00"),
        ("--hold", "2026-11-30T10:00:00/2500-01-01T00:00:00"),
    ],
)
def test_sla_compute_refuses_a_year_outside_the_supported_range(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sla", "compute", "--priority", "High", "--created", "2026-11-27T18:30:00"]
    args += [option, value]
    code, err = cli(capsys, *args)
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"error: {option}: ")
    assert line.endswith("is outside the supported range, 2000-01-01 to 2199-12-31")
