"""A closed ticket's report figures do not change after it closed, not even when a new policy is
deployed and the closed ticket is edited afterwards (README: "a closed ticket's figures are the
same whenever the report runs").

Calendar: the shipped `office` calendar, Monday to Friday 08:00-19:00 America/Mexico_City; a
High ticket (first response 1 hour) created Friday 27 Nov 2026 18:30."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration.cli import main
from integration.rules import load_policy
from integration.rules.policy import shipped_policy_path
from tests.pipeline.conftest import Service, mx

FRIDAY_1830 = "2026-11-28T00:30:00.000Z"  # Fri 27 Nov 2026 18:30 Mexico City
HIGH = "Ataque masivo de SPAM"

pytestmark = pytest.mark.usefixtures("cli_on_service_database")


def figures(service: Service, capsys: pytest.CaptureFixture[str], ticket_id: str) -> dict:
    capsys.readouterr()
    assert main(["report", "--month", "2026-11", "--format", "json"], clock=service.clock) == 0
    data = json.loads(capsys.readouterr().out)
    [row] = [t for t in data["tickets"] if t["ticket"] == ticket_id]
    return row


def test_a_closed_tickets_figures_survive_a_policy_change_and_a_later_edit(
    service: Service,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.clock.set(mx("2026-11-27 18:30"))
    ticket = service.add(subject=HIGH, createdTime=FRIDAY_1830)["id"]
    service.work()
    service.clock.set(mx("2026-11-30 10:00"))  # Monday: reply 30 min + 2 h business after
    service.agent_reply(ticket)
    service.work()
    service.clock.set(mx("2026-11-30 12:00"))
    service.agent_update(ticket, status="Closed")
    service.work()
    before = figures(service, capsys, ticket)
    assert before["response_business_s"] == 2.5 * 3600
    assert before["response_state"] == "breached"  # 1 h: due Monday 08:30

    # December: the lead adds Monday 30 Nov as a company day off (retroactively, e.g. a
    # correction) and an agent later edits the long-closed ticket (a tag, a field)
    text = shipped_policy_path().read_text(encoding="utf-8")
    text = text.replace(
        "days_off = []", 'days_off = [ { date = "2026-11-30", name = "Día de la empresa" } ]', 1
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SLA_POLICY_FILE", str(path))
    service.container.policy = load_policy(path)
    service.clock.set(mx("2026-12-15 10:00"))
    service.agent_update(ticket, subject=HIGH + " (cerrado)")
    service.work()
    after = figures(service, capsys, ticket)
    assert after == before


def test_figures_missing_on_old_tickets_are_filled_without_touching_anything_else(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ticket computed before the report existed (its figures empty) is announced by the
    report and filled by `sla recompute --figures`, closed or not, with nothing written."""
    from integration.models import TrackedTicket

    service.clock.set(mx("2026-11-27 18:30"))
    ticket = service.add(subject=HIGH, createdTime=FRIDAY_1830)["id"]
    service.work()
    service.clock.set(mx("2026-11-30 10:00"))
    service.agent_reply(ticket)
    service.work()
    service.clock.set(mx("2026-11-30 12:00"))
    service.agent_update(ticket, status="Closed")
    service.work()
    before = figures(service, capsys, ticket)
    with service.container.sessions() as session:  # as a row of the previous schema left it
        row = session.get(TrackedTicket, ticket)
        assert row is not None
        kept = (row.response_due, row.resolution_due, row.sla_status, row.updated_at)
        row.response_state = row.resolution_state = ""
        row.response_business_s = row.resolution_business_s = None
        row.closed_at = None
        session.commit()
    patches = len(service.desk.writes("PATCH", f"/api/v1/tickets/{ticket}"))

    capsys.readouterr()
    assert main(["report", "--month", "2026-11"], clock=service.clock) == 0
    assert "1 ticket(s) of the period have no figures yet" in capsys.readouterr().err
    assert main(["sla", "recompute", "--figures"], clock=service.clock) == 0
    assert "filled the report figures of 1 ticket(s)" in capsys.readouterr().out

    assert figures(service, capsys, ticket) == before
    with service.container.sessions() as session:
        row = session.get(TrackedTicket, ticket)
        assert row is not None
        assert (row.response_due, row.resolution_due, row.sla_status, row.updated_at) == kept
    service.work()
    assert len(service.desk.writes("PATCH", f"/api/v1/tickets/{ticket}")) == patches
