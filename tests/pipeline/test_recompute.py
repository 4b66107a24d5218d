"""Recompute after a policy change: a company day off added on a date inside open tickets'
windows.

Calendar: the shipped `office` calendar, Monday to Friday 08:00-19:00 America/Mexico_City
(11 business hours a day); `24x7` for Urgent. Policy: the shipped Ignus policy, High = first
response 1 hour, resolution 1-3 days (office); Urgent = 15 minutes / 2 hours (24x7).

Tickets are created Friday 27 Nov 2026 18:30 (half an hour before closing); the change, made at
18:35, adds
Monday 30 Nov 2026 as a company day off ("Día de la empresa"), so a High ticket's first-response
due moves from Monday 08:30 to Tuesday 1 Dec 08:30; an Urgent ticket on the 24x7 calendar does
not move; a closed High ticket is never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration.cli import main
from integration.models import AuditEntry, OutboxWrite, TrackedTicket
from integration.rules import load_policy
from integration.rules.policy import shipped_policy_path
from tests.pipeline.conftest import Service, mx

FRIDAY_1830 = "2026-11-28T00:30:00.000Z"  # Fri 27 Nov 2026 18:30 in Mexico City
HIGH = "Ataque masivo de SPAM"  # rule high-spam-attack: High
URGENT = "Se cayó el servidor"  # rule urgent-service-down: Urgent

pytestmark = pytest.mark.usefixtures("cli_on_service_database")


def policy_with_day_off(folder: Path) -> Path:
    text = shipped_policy_path().read_text(encoding="utf-8")
    old = "days_off = []"
    assert old in text  # the office calendar's (first) list of company days off
    changed = text.replace(
        old, 'days_off = [ { date = "2026-11-30", name = "Día de la empresa" } ]', 1
    )
    path = folder / "policy-2026-12.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def deploy(service: Service, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new policy goes into force: the service's processes and the CLI load it."""
    monkeypatch.setenv("SLA_POLICY_FILE", str(path))
    service.container.policy = load_policy(path)


def ticket(service: Service, ticket_id: str) -> TrackedTicket:
    with service.container.sessions() as session:
        row = session.get(TrackedTicket, ticket_id)
        assert row is not None
        session.expunge(row)
        return row


def recompute(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["sla", "recompute", *args], clock=service.clock, desk=service.container.desk)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def three_tickets(service: Service) -> dict[str, str]:
    """A High and an Urgent ticket open, a High ticket closed; all written back."""
    service.clock.set(mx("2026-11-27 18:30"))
    high = service.add(subject=HIGH, createdTime=FRIDAY_1830)["id"]
    urgent = service.add(subject=URGENT, createdTime=FRIDAY_1830)["id"]
    closed = service.add(subject=HIGH, createdTime=FRIDAY_1830)["id"]
    service.work()
    service.clock.advance(minutes=2)
    service.agent_update(closed, status="Closed")
    service.work()
    # 18:35: the lead changes the policy (before the Urgent ticket's 18:45 response due, so
    # its status is still On track: only the day off can change anything)
    service.clock.set(mx("2026-11-27 18:35"))
    return {"high": high, "urgent": urgent, "closed": closed}


def test_dry_run_prints_the_diff_and_why_and_changes_nothing(
    service: Service,
    three_tickets: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    high = three_tickets["high"]
    assert ticket(service, high).response_due == mx("2026-11-30 08:30")
    deploy(service, policy_with_day_off(tmp_path), monkeypatch)
    before = {t: ticket(service, t).updated_at for t in three_tickets.values()}
    patches_before = len(service.desk.writes("PATCH", "/api/v1/tickets/"))

    out = recompute(service, capsys, "--dry-run")
    assert f"ticket {high}" in out
    assert "response_due" in out and "lun 30 nov 2026 08:30 CST → mar 1 dic 2026 08:30 CST" in out
    assert "why: 2026-11-30 on office: a working day → day off (Día de la empresa)" in out
    assert "writes" in out and "cf_sla_response_due" in out
    assert three_tickets["urgent"] not in out  # 24x7: no day off there
    assert three_tickets["closed"] not in out
    assert "2 open ticket(s) checked" in out and "1 changed; dry run: nothing written" in out
    # nothing changed: not the tickets, not the outbox, not Zoho
    assert {t: ticket(service, t).updated_at for t in three_tickets.values()} == before
    assert ticket(service, high).response_due == mx("2026-11-30 08:30")
    service.work()
    assert len(service.desk.writes("PATCH", "/api/v1/tickets/")) == patches_before


def test_recompute_writes_exactly_the_fields_of_the_diff_and_leaves_closed_tickets_alone(
    service: Service,
    three_tickets: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    high, closed = three_tickets["high"], three_tickets["closed"]
    deploy(service, policy_with_day_off(tmp_path), monkeypatch)
    shown = json.loads(recompute(service, capsys, "--dry-run", "--json"))
    [planned] = shown["tickets"]
    closed_before = ticket(service, closed)
    patches_before = {
        t: len(service.desk.writes("PATCH", f"/api/v1/tickets/{t}")) for t in three_tickets.values()
    }

    out = recompute(service, capsys)
    assert "1 changed; queued for write-back" in out
    service.work()

    row = ticket(service, high)
    assert row.response_due == mx("2026-12-01 08:30")
    assert row.policy_version == shown["policy"]
    [patch] = service.desk.writes("PATCH", f"/api/v1/tickets/{high}")[patches_before[high] :]
    written = set(patch.body.get("cf", {})) | (set(patch.body) - {"cf"})
    assert written == set(planned["writes"])  # exactly the fields the diff named
    assert service.desk.get_ticket(high)["cf"]["cf_sla_response_due"].startswith("2026-12-01T14:30")
    # the closed ticket: same row, no write, no audit entry
    assert ticket(service, closed).updated_at == closed_before.updated_at
    assert ticket(service, closed).policy_version == closed_before.policy_version
    assert len(service.desk.writes("PATCH", f"/api/v1/tickets/{closed}")) == patches_before[closed]
    with service.container.sessions() as session:
        audited = session.query(AuditEntry).filter_by(decision="recomputed").all()
        assert [a.ticket_id for a in audited] == [high]
        assert "Día de la empresa" in audited[0].reason
        assert session.get(OutboxWrite, closed).status == "done"


def test_a_second_recompute_finds_nothing_to_change(
    service: Service,
    three_tickets: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(service, policy_with_day_off(tmp_path), monkeypatch)
    recompute(service, capsys)
    service.work()
    out = recompute(service, capsys, "--dry-run")
    assert "2 open ticket(s) checked" in out and "0 changed" in out


def test_a_candidate_policy_is_previewed_without_deploying_it(
    service: Service,
    three_tickets: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    candidate = policy_with_day_off(tmp_path)
    out = recompute(service, capsys, "--dry-run", "--policy", str(candidate))
    assert "mar 1 dic 2026 08:30 CST" in out and "1 changed" in out
    assert ticket(service, three_tickets["high"]).response_due == mx("2026-11-30 08:30")
    capsys.readouterr()
    code = main(["sla", "recompute", "--policy", str(candidate)], clock=service.clock)
    assert code == 2
    assert "--dry-run only" in capsys.readouterr().err


def test_the_worker_says_at_start_how_many_open_tickets_an_older_revision_computed(
    service: Service,
    three_tickets: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from integration.pipeline.recompute import announce_policy

    service.container.policy = load_policy(policy_with_day_off(tmp_path))
    with caplog.at_level("WARNING"):
        assert announce_policy(service.container) == 2  # the closed one is not counted
    assert "2 open ticket(s) were computed with another policy revision" in caplog.text
