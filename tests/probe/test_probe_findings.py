"""Adversarial probes of the support leads' tools (issue 13): each xfail(strict) is a finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.cli import main
from integration.rules.policy import shipped_policy_path
from tests.pipeline.conftest import Service, mx

FRIDAY_1830 = "2026-11-28T00:30:00.000Z"  # Fri 27 Nov 2026 18:30 Mexico City
DNS = "Actualizar registros DNS del dominio"  # rule medium-configuration: Medium

pytestmark = pytest.mark.usefixtures("cli_on_service_database")


def variant(folder: Path, *pairs: tuple[str, str]) -> Path:
    text = shipped_policy_path().read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "candidate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args), clock=service.clock, desk=service.container.desk)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.xfail(
    strict=True,
    raises=Exception,
    reason="a policy that drops a priority an open ticket has (renamed key, alias gone) makes "
    "`sla recompute` raise PolicyError from compute_deadlines (ledger.recompute, "
    "policy.priority) out of the CLI as a traceback, aborting the run for every later ticket; "
    "expected: a one-line error naming the ticket(s) and priority, or the ticket skipped",
)
def test_recompute_with_a_policy_that_drops_a_tickets_priority(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    service.clock.set(mx("2026-11-27 18:30"))
    service.add(subject=DNS, createdTime=FRIDAY_1830)
    service.work()
    candidate = variant(
        tmp_path, ("[priorities.Medium]", "[priorities.Normal]"), ('"Medium"', '"Normal"')
    )
    code, _, err = run(service, capsys, "sla", "recompute", "--dry-run", "--policy", str(candidate))
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1


@pytest.mark.xfail(
    strict=True,
    raises=IsADirectoryError,
    reason="`sla recompute --dry-run --policy DIR` raises IsADirectoryError (load_policy only "
    "catches FileNotFoundError and TOMLDecodeError; PermissionError likewise)",
)
def test_recompute_policy_that_is_a_directory(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(service, capsys, "sla", "recompute", "--dry-run", "--policy", str(tmp_path))
    assert code == 2 and err.startswith("error: --policy:")


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason="`report --from 9999-12-31 --to 9999-12-31` raises OverflowError from Period.end "
    "(report/compile.py: last + 1 day); --month 9999-12 is a one-line error",
)
def test_report_on_the_last_representable_day(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(service, capsys, "report", "--from", "9999-12-31", "--to", "9999-12-31")
    assert code == 2 and err.startswith("error:")


@pytest.mark.xfail(
    strict=True,
    reason="`adopt --since '2026-11-20 10:00'` (a space, which fromisoformat accepts) is turned "
    "into '2026-11-20 10:00T00:00' (cli/adopt.py: `since if 'T' in since else since+'T00:00'`) "
    "and refused, quoting text the user never typed",
)
def test_adopt_since_with_a_space_between_date_and_time(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.clock.set(mx("2026-11-27 18:30"))
    code, _, err = run(service, capsys, "adopt", "--dry-run", "--since", "2026-11-20 10:00")
    assert "10:00T00:00" not in err
    assert code == 0, err
