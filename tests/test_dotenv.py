"""A `.env` with a bad value: the test suite never reads it, and commands that need no server
(`sla compute`) do not fail on a setting they do not use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from integration.cli import main

BAD_DOTENV = "PORT=abc\n"
COMPUTE = ["sla", "compute", "--priority", "High", "--created", "2026-11-27T18:30:00-06:00"]


def as_a_user(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line in `tmp_path`, reading its `.env` as it does outside the tests."""
    env = {k: v for k, v in os.environ.items() if k != "INTEGRATION_DOTENV"}
    env.pop("DATABASE_URL", None)
    env.pop("PORT", None)
    return subprocess.run(
        [sys.executable, "-m", "integration", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_dotenv_in_the_working_directory_does_not_reach_the_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text(BAD_DOTENV)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    assert main(["config", "show"]) == 0
    assert "PORT=8000" in capsys.readouterr().out.splitlines()


def test_sla_compute_ignores_a_bad_unrelated_setting_in_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(BAD_DOTENV)
    result = as_a_user(tmp_path, *COMPUTE, "--json")
    assert result.returncode == 0, result.stderr
    assert '"response_due": "2026-11-30T14:30:00Z"' in result.stdout


def test_a_server_command_still_reads_dotenv_and_names_the_bad_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(BAD_DOTENV)
    result = as_a_user(tmp_path, "config", "show")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: PORT: expected an integer between 0 and 65535, got 'abc'"
    )


def test_sla_compute_still_reads_its_policy_file_setting_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SLA_POLICY_FILE={tmp_path}/missing.toml\n")
    result = as_a_user(tmp_path, *COMPUTE)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: SLA_POLICY_FILE: expected the path of an existing file, got "
        f"'{tmp_path}/missing.toml'"
    )
