"""`integration status`: one screen for ops, from what the running processes recorded.

Policy: the shipped Ignus policy; "Ataque masivo de SPAM" is High. The service runs live against
the fake Zoho Desk; the shell that asks has no Zoho credentials (its own mode would be dry-run).
Monday 30 Nov 2026, Mexico City.
"""

from __future__ import annotations

import json

import pytest

from integration.cli import main
from integration.pipeline.worker import Worker
from tests.pipeline.conftest import Service, mx

SPAM = "Ataque masivo de SPAM"


pytestmark = pytest.mark.usefixtures("cli_on_service_database")


def status(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["status", *args], clock=service.clock) == 0
    return capsys.readouterr().out


def test_status_shows_the_running_workers_mode_and_the_backlog(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    service.add(subject=SPAM, createdTime="2026-11-30T16:00:00.000Z")
    service.add(subject=SPAM, createdTime="2026-11-30T16:00:00.000Z")
    before = json.loads(status(service, capsys, "--json"))
    assert before["write_back"] == "unknown (no worker has run)"
    assert before["inbox"]["waiting"] == 2

    worker = Worker(service.container)
    worker.heartbeat()
    worker.run_until_idle()
    service.clock.advance(seconds=30)
    after = json.loads(status(service, capsys, "--json"))
    assert after["write_back"] == "live"  # the worker's, though this shell would be dry-run
    assert after["worker"]["age_s"] == 30
    assert after["inbox"] == {
        "waiting": 0,
        "oldest_waiting": None,
        "failed": 0,
        "quarantined": 0,
    }
    assert after["outbox"]["pending"] == 0


def test_the_human_screen_names_zones_and_has_no_python_reprs(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    Worker(service.container).heartbeat()
    text = status(service, capsys)
    assert "status at 2026-11-30 10:00:00 CST (UTC-0600)" in text
    assert "write-back: live (as the running worker reports it)" in text
    assert "clock:      never ran on this database" in text
    assert "None" not in text and "{" not in text
