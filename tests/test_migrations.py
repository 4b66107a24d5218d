"""The models and the migrations describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from integration import db
from integration.models import Base


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_reach_head(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(db.alembic_config(database_url)).get_current_head()
        assert db.current_revision(engine) == head
    finally:
        engine.dispose()
