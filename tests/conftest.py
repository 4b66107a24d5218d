"""Shared fixtures.

The database is real: SQLite files by default, PostgreSQL when `TEST_DATABASE_URL` is set (CI runs
both). Migrations run once per session; each test then gets an isolated database: a copy of the
migrated SQLite file, or the PostgreSQL database with every table emptied after the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from integration import db
from integration.app import create_app
from integration.config import Settings, settings_from_mapping
from integration.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


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
