"""Shared fixtures.

The database is real: SQLite files by default, PostgreSQL when `TEST_DATABASE_URL` is set (CI runs
both). Migrations run once per session; each test then gets an isolated database: a copy of the
migrated SQLite file, or the PostgreSQL database with every table emptied after the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from integration import db
from integration.app import create_app
from integration.config import DOTENV_VARIABLE, Settings, settings_from_mapping
from integration.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

# Time-bomb guard: `TEST_WALL_CLOCK=2031-06-01T12:00:00Z make test` runs the whole session with the
# wall clock moved there (time-machine, ticking), so a test that silently reads today's date fails
# now rather than on the day it starts to matter. `.ci/run` runs the suite at a future and a past
# date. Tests marked `real_clock` run another process that the moved clock cannot reach.
WALL_CLOCK = os.environ.get("TEST_WALL_CLOCK", "")
_travel = None


def pytest_configure(config: pytest.Config) -> None:
    global _travel
    if WALL_CLOCK:
        import time_machine

        _travel = time_machine.travel(datetime.fromisoformat(WALL_CLOCK), tick=True)
        _travel.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _travel is not None:
        _travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"wall clock moved to {WALL_CLOCK} (TEST_WALL_CLOCK)" if WALL_CLOCK else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not WALL_CLOCK:
        return
    for item in items:
        marker = item.get_closest_marker("real_clock")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"moved wall clock cannot reach: {reason}"))
        elif item.get_closest_marker("heavy") is not None:
            # The suite's budget: the heaviest scenarios run once (their instants come from
            # their own clock; the code paths they drive are also run here by lighter tests).
            item.add_marker(pytest.mark.skip(reason="heavy: run at the real wall clock only"))


@pytest.fixture(autouse=True)
def no_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a `.env`: a developer's file in the checkout must not change a test.
    (Processes a test starts inherit it; a test that means to read one sets it back.)"""
    monkeypatch.setenv(DOTENV_VARIABLE, "")


def on_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a database migrated to head (a template file on SQLite)."""
    if on_postgres():
        db.upgrade(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    return url


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if on_postgres():
        yield migrated_template
        _empty_all_tables(migrated_template)
        return
    source = Path(migrated_template.removeprefix("sqlite:///"))
    target = tmp_path / "test.db"
    shutil.copyfile(source, target)
    yield f"sqlite:///{target}"


def _empty_all_tables(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_from_mapping({"DATABASE_URL": database_url})


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings)
    application.testing = True
    yield application
    application.extensions["integration"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()
