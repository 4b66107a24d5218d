"""What the command line shows people: help on every option, no Python reprs, times with their
zone, one JSON instant format, errors that say what was not found; `inbox replay` applies only
what it stored, and SQLite's one worker is guarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from integration import db
from integration.cli import cli, main
from integration.health import beat
from tests.conftest import on_postgres

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ticket_add.json"
TICKET = "432100000012345678"
NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # half an hour after the example's creation
REPRS = ("None", "True", "False", "{'", "Secret(", "datetime.")


def at_now() -> datetime:
    return NOW


def commands(group: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in getattr(group, "commands", {}).items():
        found += commands(command, (*path, name))
    return found


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", commands(cli), ids=lambda p: " ".join(p) or "integration")
def test_every_command_and_option_has_help(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert command.help, f"{' '.join(path)} has no help"
    bare = [o.opts[0] for o in command.params if isinstance(o, click.Option) and not o.help]
    assert bare == [], f"{' '.join(path)}: options without help: {bare}"


@pytest.fixture
def service_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args), clock=at_now)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def replayed(service_db: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "inbox", "replay", str(EXAMPLE))
    assert code == 0, err
    return service_db


def test_config_show_hides_secrets_and_prints_values_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "s3cr3t-value")
    code, out, _ = run(capsys, "config", "show")
    lines = out.splitlines()
    assert code == 0
    assert "ZOHO_CLIENT_SECRET=<hidden>" in lines
    assert "ZOHO_REFRESH_TOKEN=" in lines
    assert "CLOCK_ENABLED=true" in lines
    assert "s3cr3t-value" not in out
    assert not [line for line in lines if any(r in line for r in REPRS)]


def test_ticket_show_has_no_python_reprs_and_every_time_names_its_zone(
    replayed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ticket", "show", TICKET)
    assert code == 0
    assert not [line for line in out.splitlines() if any(r in line for r in REPRS)], out
    assert "response_due: lun 30 nov 2026 08:30 CST" in out
    assert "write-back: done (dry-run: recorded, not sent), 0 write(s), 0 wait(s)" in out
    assert "comment: dry-run: recorded, not posted" in out
    audit = out.split("audit:\n", 1)[1].splitlines()
    assert audit and all(line.startswith("  vie 27 nov 2026 19:00 CST  ") for line in audit)


def test_ticket_show_json_writes_every_instant_as_iso_8601_utc(
    replayed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ticket", "show", TICKET, "--json")
    body = json.loads(out)
    assert code == 0
    assert body["response_due"] == "2026-11-30T14:30:00Z"
    assert body["resolution_due"] == "2026-12-03T00:30:00Z"
    assert {entry["at"] for entry in body["audit"]} == {"2026-11-28T01:00:00Z"}


def test_an_unknown_priority_lists_the_spanish_and_english_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys, "sla", "compute", "--priority", "Altísima", "--created", "2026-11-27"
    )
    assert code == 2
    assert err.strip() == (
        'error: --priority: unknown priority "Altísima" (known: Urgente/Urgent, Alta/Alto/High, '
        "Media/Medio/Medium, Baja/Bajo/Low)"
    )


def test_inbox_retry_of_an_event_that_does_not_exist_says_so_and_fails(
    service_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "inbox", "retry", "--id", "999")
    assert code == 2
    assert err.strip() == "error: no event 999 in the inbox (`inbox status` lists them)"
    assert out == ""


def test_inbox_retry_of_an_event_that_did_not_fail_says_so(
    replayed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "inbox", "retry", "--id", "1")
    assert code == 2
    assert err.strip() == "error: event 1 is done, not failed or quarantined: nothing to retry"


def test_replay_applies_only_the_events_it_stored(
    service_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = json.loads(EXAMPLE.read_text())
    other[0]["payload"]["id"] = "432100000099999999"
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert run(capsys, "inbox", "replay", str(tmp_path / "other.json"), "--no-process")[0] == 0

    code, out, _ = run(capsys, "inbox", "replay", str(EXAMPLE))
    assert code == 0
    assert out.splitlines() == [
        "stored 1 new event(s), 0 already known",
        f"event 2 (Ticket_Add, ticket {TICKET}): done",
    ]
    code, out, _ = run(capsys, "inbox", "status", "--json")
    assert json.loads(out)["events"] == {"done": 1, "pending": 1}


@pytest.mark.skipif(on_postgres(), reason="the warning is about SQLite's one writer")
def test_replay_warns_when_a_worker_is_running_on_sqlite(
    service_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    running_worker(service_db, beat_at=NOW)
    code, _, err = run(capsys, "inbox", "replay", str(EXAMPLE))
    assert code == 0
    assert err.strip() == (
        f"warning: a worker ({ALIVE}) beat 0 s ago on this database; on SQLite two "
        "processes applying events compete for the one writer (use --no-process to let that "
        "worker apply these)"
    )


ALIVE = f"worker-{os.getppid()}-abcd1234"  # a process that runs: pytest's parent


def running_worker(url: str, beat_at: datetime, owner: str = ALIVE) -> None:
    engine = db.make_engine(url)
    try:
        beat(db.make_session_factory(engine), "worker", owner, beat_at)
    finally:
        engine.dispose()


def test_replay_does_not_warn_of_a_worker_whose_process_is_gone(
    service_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # ended and reaped: its pid runs nothing
    running_worker(service_db, beat_at=NOW, owner=f"worker-{gone.pid}-abcd1234")
    code, _, err = run(capsys, "inbox", "replay", str(EXAMPLE))
    assert code == 0
    assert err == ""


@pytest.mark.skipif(on_postgres(), reason="several workers are fine on PostgreSQL")
@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_second_worker_on_the_same_sqlite_file_is_refused(
    command: str,
    service_db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("integration.logs.configure_logging", lambda *a, **k: None)
    monkeypatch.setenv("PORT", "0")
    running_worker(service_db, beat_at=NOW)
    code, _, err = run(capsys, command)
    assert code == 2
    assert err.strip() == (
        f"error: a worker ({ALIVE}) beat 0 s ago on this database: run one worker per "
        "SQLite database (stop it, or wait 30 s after it stopped; several workers need "
        "PostgreSQL)"
    )


def test_run_help_describes_what_it_prints_and_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "run", "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "Listens on HOST:PORT" in text
    assert "whether Zoho write-back is live or dry-run" in text
    assert "Refuses a database behind the code's migrations" in text
