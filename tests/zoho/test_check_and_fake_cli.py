"""`zoho check` asks each thing once (no retries) and says when its token was cached;
`fake-zoho` prints `export` lines and seeds the tickets of saved deliveries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.zoho.fake import FakeDesk, Fault
from integration.zoho.fake_server import seed_tickets
from tests.zoho.conftest import check

ROOT = Path(__file__).resolve().parent.parent.parent


def test_check_says_zoho_issued_a_new_token_then_that_it_used_the_cached_one(
    zoho_env: FakeDesk, capsys: pytest.CaptureFixture[str]
) -> None:
    first_code, first = check(capsys)
    second_code, second = check(capsys)
    assert (first_code, second_code) == (0, 0)
    assert "[ok]      access token: Zoho issued a new access token" in first
    [token] = [line for line in second if line.startswith("[ok]      access token: ")]
    assert token.startswith("[ok]      access token: cached, valid until ")
    assert token.endswith("(Zoho was not asked for a new one)")
    assert zoho_env.token_calls == 1


def test_check_asks_each_thing_once_when_zoho_fails(
    zoho_env: FakeDesk, capsys: pytest.CaptureFixture[str]
) -> None:
    zoho_env.inject(Fault(status=503, times=1000, path_prefix="/api/v1"))
    code, lines = check(capsys)
    assert code == 1
    assert "[failed]  organisation and Desk.basic.READ (myinfo): 503 " in "\n".join(lines)
    api_calls = [r.path for r in zoho_env.requests if r.path.startswith("/api/v1")]
    assert len(api_calls) == len(set(api_calls)), api_calls  # no retries


def test_check_stops_asking_once_zoho_does_not_answer(
    zoho_env: FakeDesk,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check(capsys)[0] == 0  # a token is cached
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("ZOHO_DESK_BASE_URL", closed)
    code, lines = check(capsys)
    assert code == 1
    assert "[failed]  organisation and Desk.basic.READ (myinfo): 0 CONNECTIONERROR: no answer " in (
        "\n".join(lines)
    )
    not_checked = [line for line in lines if "not checked: Zoho did not answer" in line]
    assert len(not_checked) == 3
    assert not [line for line in lines if line.startswith(("[missing] field", "[warn]    field"))]


def test_seeding_creates_the_tickets_of_the_saved_deliveries() -> None:
    desk = FakeDesk()
    seeded = seed_tickets(desk, ROOT / "examples")
    assert seeded == ["432100000012345678", "432100000012345679"]
    assert desk.get_ticket("432100000012345678")["subject"].startswith("Ataque masivo de SPAM")


def test_seeding_names_a_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match=r"broken\.json: not JSON"):
        seed_tickets(FakeDesk(), tmp_path)


@pytest.fixture
def fake_zoho_process(tmp_path: Path) -> Iterator[list[str]]:
    """`fake-zoho --seed examples` running; yields what it printed up to its seed line."""
    env = {"PATH": os.environ.get("PATH", ""), "INTEGRATION_DOTENV": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "integration", "fake-zoho", "--port", "0", "--seed", "examples"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("# seeded"):
            line = process.stdout.readline()
            assert line, f"fake-zoho ended early: {lines}"
            lines.append(line.rstrip("\n"))
        yield lines
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.real_clock("the fake Zoho Desk runs in a process of its own")
def test_fake_zoho_prints_export_lines_with_which_zoho_check_passes(
    fake_zoho_process: list[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exports = [line for line in fake_zoho_process if not line.startswith("#")]
    assert exports and all(line.startswith("export ") for line in exports)
    assert fake_zoho_process[-1] == (
        "# seeded 2 ticket(s) from examples: 432100000012345678, 432100000012345679"
    )
    for line in exports:
        key, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", database_url)
    code, lines = check(capsys)
    assert code == 0, lines
