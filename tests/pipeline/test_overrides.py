"""Learning from agents: when an agent changes the priority the service set, the change is kept
with the ticket's subject and rule, and `sla overrides` reports it per rule and exports it in the
corpus format.

Policy: the shipped Ignus policy. "Ataque masivo de SPAM" is High (rule high-spam-attack);
"Se cayó el servidor" is Urgent (rule urgent-service-down). Tickets are created Monday
30 Nov 2026 10:00 America/Mexico_City.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from integration.cli import main
from integration.models import PriorityOverride
from tests.pipeline.conftest import Service, mx

SPAM = "Ataque masivo de SPAM"
DOWN = "Se cayó el servidor"
MONDAY_10 = "2026-11-30T16:00:00.000Z"


def overrides(service: Service) -> list[PriorityOverride]:
    with service.container.sessions() as session:
        rows = list(session.query(PriorityOverride).order_by(PriorityOverride.ticket_id))
        session.expunge_all()
        return rows


pytestmark = pytest.mark.usefixtures("cli_on_service_database")


def sla_overrides(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["sla", "overrides", *args], clock=service.clock)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_an_agent_change_of_our_priority_is_recorded_with_subject_and_rule(
    service: Service,
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    assert overrides(service) == []  # our own PATCH is no override
    service.clock.advance(minutes=5)
    service.agent_update(ticket["id"], priority="Low")
    service.work()
    [row] = overrides(service)
    assert (row.ticket_id, row.rule_id, row.subject) == (ticket["id"], "high-spam-attack", SPAM)
    assert (row.classified_priority, row.agent_priority) == ("High", "Low")


def test_the_agents_latest_choice_is_kept_once_per_ticket(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    for priority in ("Low", "Urgent"):
        service.clock.advance(minutes=5)
        service.agent_update(ticket["id"], priority=priority)
        service.work()
    [row] = overrides(service)
    assert row.agent_priority == "Urgent"
    assert row.changed_at == mx("2026-11-30 10:05")  # when the agent first disagreed


def test_sla_overrides_reports_the_rate_per_rule_and_exports_the_corpus(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    spam = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.add(subject=DOWN, createdTime=MONDAY_10)
    service.add(subject="Ataque de spam masivo otra vez", createdTime=MONDAY_10)
    service.work()
    service.clock.advance(minutes=5)
    service.agent_update(spam["id"], priority="Low")
    service.work()

    report = json.loads(sla_overrides(service, capsys, "--json"))
    by_rule = {r["rule"]: r for r in report["rules"]}
    assert by_rule["high-spam-attack"] == {
        "rule": "high-spam-attack",
        "tickets": 2,
        "overridden": 1,
        "rate": 0.5,
    }
    assert by_rule["urgent-service-down"]["overridden"] == 0
    assert [o["subject"] for o in report["overrides"]] == [SPAM]

    exported = tmp_path / "overrides.csv"
    text = sla_overrides(service, capsys, "--export", str(exported))
    assert "high-spam-attack" in text and "50.0%" in text
    with exported.open(encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert (row["subject"], row["priority"], row["kind"]) == (SPAM, "Low", "standard")
    assert "high-spam-attack" in row["note"]


def test_since_leaves_out_older_overrides(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    spam = service.add(subject=SPAM, createdTime=MONDAY_10)
    service.work()
    service.clock.advance(minutes=5)
    service.agent_update(spam["id"], priority="Low")
    service.work()
    report = json.loads(sla_overrides(service, capsys, "--since", "2026-12-01", "--json"))
    assert report == {"rules": [], "overrides": []}
