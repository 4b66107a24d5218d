"""Database engine, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web process and the
worker can share one file; PostgreSQL goes through psycopg 3 with `pool_pre_ping`, so a restarted
database is picked up again without restarting us.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .config import DEFAULT_DATABASE_URL, ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str, *, busy_timeout_ms: int = 5000, connect_timeout_s: int = 3, max_overflow: int = 5
) -> Engine:
    """`max_overflow`: connections beyond the pool's 5 when threads need them at once (the
    worker's Zoho threads each hold one for a short transaction at a time)."""
    if is_sqlite(url):
        return _sqlite_engine(url, busy_timeout_ms)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=max_overflow,
        pool_timeout=connect_timeout_s,
        connect_args={"connect_timeout": connect_timeout_s},
    )


def _sqlite_folder(url: str) -> None:
    """The SQLite file's folder must exist: a typo in DATABASE_URL must not create folders and
    an empty database somewhere. Only the default instance folder is created."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if folder.is_dir():
        return
    if url == DEFAULT_DATABASE_URL:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"DATABASE_URL: cannot create {folder}: {exc.strerror}") from None
        return
    raise ConfigError(
        f"DATABASE_URL: the folder {folder} does not exist (create it, or correct the URL)"
    )


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    _sqlite_folder(url)
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling defers BEGIN; take it over so that
        # BEGIN IMMEDIATE can be used for writes that must not deadlock on upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite has one writer at a time. Writers of this process queue on a lock instead of in
    # SQLite's busy handler, whose growing sleeps give seconds-long tails under concurrency.
    writers = threading.RLock()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        # Writers take the write lock up front (no deadlock on a read-to-write upgrade);
        # read-only work (see `read_only`) begins deferred and never waits on writers (WAL).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        writers.acquire()
        connection.info["holds_write_lock"] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    def _release(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.info.pop("holds_write_lock", False):
            writers.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


READ_ONLY = "integration_read_only"


def read_only(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reads only: on SQLite they begin deferred, so they never queue behind a
    writer. (PostgreSQL ignores the option.)"""
    engine = factory.kw["bind"]
    return sessionmaker(bind=engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commits when the block ends normally, rolls back otherwise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Raise when the database cannot answer a trivial query."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        connection.execute(text("SELECT 1"))


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_WORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def describe_error(exc: BaseException, url: str | None = None) -> str:
    """Why a database call failed, in one line: the driver's first line (not the class name
    alone), with any password taken out."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[0] if lines else type(cause).__name__
    text = text.removeprefix("connection failed: ")
    text = re.sub(r"\s{2,}", " ", text)
    if url:
        password = make_url(url).password
        if password:
            text = text.replace(str(password), "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _PASSWORD_WORD.sub(r"\1***", text)


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    # Alembic announces its dialect at INFO on every configure: noise in a start-up check.
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    try:
        with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        quiet.setLevel(level)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def insert_for(dialect_name: str):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which has `on_conflict_do_nothing/update` (insert-or-ignore)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
