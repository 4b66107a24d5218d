"""The `sla` command line: a public contract (JSON fields, UTC `Z` times, exit code 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from integration.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_compute_json_has_the_three_deadlines_in_utc(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys,
        "sla",
        "compute",
        "--priority",
        "High",
        "--created",
        "2026-11-27T18:30:00-06:00",
        "--json",
    )
    assert code == 0
    body = json.loads(out)
    assert body["priority"] == "High"
    assert body["calendar"] == "office"
    assert body["response_due"] == "2026-11-30T14:30:00Z"
    assert body["resolution_target"] == "2026-12-01T00:30:00Z"
    assert body["resolution_due"] == "2026-12-03T00:30:00Z"


def test_compute_with_a_hold_spanish_priority_and_naive_time(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys,
        "sla",
        "compute",
        "--priority",
        "alta",
        "--created",
        "2026-11-27T18:30:00",
        "--hold",
        "2026-11-30T10:00:00-06:00/2026-12-01T09:00:00-06:00",
        "--json",
    )
    assert code == 0
    body = json.loads(out)
    assert body["resolution_due"] == "2026-12-03T23:30:00Z"
    assert body["holds"] == [{"start": "2026-11-30T16:00:00Z", "end": "2026-12-01T15:00:00Z"}]
    counted = body["deadlines"]["response_due"]["counted"]
    assert counted == [
        ["2026-11-28T00:30:00Z", "2026-11-28T01:00:00Z"],
        ["2026-11-30T14:00:00Z", "2026-11-30T14:30:00Z"],
    ]


def test_compute_explains_in_spanish_by_default(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys, "sla", "compute", "--priority", "Urgente", "--created", "2026-09-15T23:00:00"
    )
    assert code == 0
    assert "Prioridad: Urgente" in out
    assert "Primera respuesta" in out


def test_compute_explains_in_english_with_skipped_holidays(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys,
        "sla",
        "compute",
        "--priority",
        "High",
        "--created",
        "2026-11-13T18:00:00",
        "--lang",
        "en",
    )
    assert code == 0
    assert "Closed days skipped" in out
    assert "2026-11-16 — holiday" in out
    assert "2026-11-14 — weekend" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--priority", "Critica", "--created", "2026-11-27T10:00:00"],
            'unknown priority "Critica"',
        ),
        (
            ["--priority", "High", "--created", "27/11/2026"],
            '--created: "27/11/2026" is not an ISO',
        ),
        (
            ["--priority", "High", "--created", "2026-11-27T10:00:00", "--policy", "/nonexistent"],
            "policy: /nonexistent: no such file",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "sla", "compute", *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_classify_json_names_rule_and_evidence(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "sla", "classify", "--subject", "Ataque masivo de SPAM", "--json")
    assert code == 0
    assert json.loads(out) == {
        "priority": "High",
        "kind": "standard",
        "vendor": None,
        "rule": "high-spam-attack",
        "rule_description": "Ataque masivo de SPAM / massive spam attack",
        "confidence": "high",
        "evidence": ['spam: "spam" in the subject', 'volume: "ataque" in the subject'],
    }


def test_the_module_entry_point_exits_2_on_a_bad_priority() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "integration",
            "sla",
            "compute",
            "--priority",
            "x",
            "--created",
            "2026-11-27T10:00:00",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1


def test_classify_eval_prints_accuracy_per_priority_and_kind_and_the_confusion(
    capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus.csv"
    corpus.write_text(
        "subject,description,priority,kind,vendor,note\n"
        "Se cayó el servidor,,Urgent,standard,,\n"
        "Factura de octubre,,Medium,standard,,\n"
        "Renovar licencia Zoho One,,Medium,third_party,Zoho,\n"
        "Factura de noviembre,,Low,standard,,a wrong label on purpose\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "sla", "classify", "--eval", str(corpus))
    assert code == 0
    assert "accuracy: 3/4 = 75.0%" in out
    assert "  Low             0/1      0.0%" in out
    assert "  third_party     1/1    100.0%" in out
    assert "confusion (rows: expected, columns: got):" in out
    assert "line 5: 'Factura de noviembre': expected Low, got Medium (default)" in out
    code, _, _ = run(capsys, "sla", "classify", "--eval", str(corpus), "--min-accuracy", "0.8")
    assert code == 1


def test_classify_eval_names_a_missing_file(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "sla", "classify", "--eval", str(tmp_path / "none.csv"))
    assert code == 2
    assert "none.csv: no such file" in err
