"""What every command shares: the `cli` group, the settings and container of a command, and the
one-line error for mistakes a person can fix."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy.engine import make_url

from ..config import Settings, load_settings


class UserError(click.ClickException):
    """A problem the user can fix; printed as one line, exit code 2."""

    exit_code = 2


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.obj.get("settings") if ctx.obj else None
    if settings is None:
        settings = load_settings()
        ctx.ensure_object(dict)["settings"] = settings
    return settings


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ignus SLA service for Zoho Desk."""
    ctx.ensure_object(dict)


def container_of(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The composition root for a command: the settings plus whatever `main(argv, **overrides)`
    was given (tests pass their clock and fakes through the same door as `create_app`)."""
    from ..container import build_container

    return build_container(settings_of(ctx), **dict(ctx.obj.get("overrides") or {}))


def clock_of(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The clock commands that need no container read "now" from."""
    from ..container import utc_now

    return (ctx.obj.get("overrides") or {}).get("clock") or utc_now


def stop_on_signals(*then: Callable[[], object]) -> threading.Event:
    """An event SIGTERM or SIGINT sets (a clean stop), after which `then` run (wake the worker,
    shut the web server down)."""
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("integration").info("signal %s: shutting down", signum)
        stop.set()
        for action in then:
            action()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


# A worker beats every 10 s while it runs: a beat younger than this is a running worker.
WORKER_ALIVE_S = 30


def other_worker(container) -> str | None:  # type: ignore[no-untyped-def]
    """Which worker process is running on this database, if one beat lately ("a worker
    (worker-12-ab34cd56) beat 3 s ago"); None when none did."""
    from sqlalchemy.exc import SQLAlchemyError

    from .. import db
    from ..health import WorkerBeat
    from ..models import ProcessHeartbeat

    try:
        with db.read_only(container.sessions)() as session:
            beat = session.get(ProcessHeartbeat, "worker")
    except SQLAlchemyError:
        return None
    if beat is None:
        return None
    owner = WorkerBeat.parse(beat.detail).owner
    if not _may_be_alive(owner):
        return None
    age = (container.clock() - beat.beat_at).total_seconds()
    if not -WORKER_ALIVE_S < age < WORKER_ALIVE_S:
        return None
    return f"a worker ({owner}) beat {max(age, 0):.0f} s ago on this database"


def _may_be_alive(owner: str) -> bool:
    """Whether the process named in a heartbeat (`worker-<pid>-<hex>`) may still run. A SQLite
    file is local, so its workers are processes of this machine: one that is gone (killed, and
    restarted by its supervisor) is not running, whatever its last beat."""
    import os

    parts = owner.split("-")
    if len(parts) < 3 or not parts[-2].isdigit():
        return True  # not our naming: assume it runs
    pid = int(parts[-2])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refuse_second_worker(container) -> None:  # type: ignore[no-untyped-def]
    """SQLite has one writer: a second process with a worker (`run`, `worker`) on the same file
    is refused, naming the one running."""
    from .. import db

    if not db.is_sqlite(container.settings.database_url):
        return
    other = other_worker(container)
    if other:
        container.dispose()
        raise UserError(
            f"{other}: run one worker per SQLite database (stop it, or wait "
            f"{WORKER_ALIVE_S} s after it stopped; several workers need PostgreSQL)"
        )


def iso_instant(moment: datetime | None) -> str | None:
    """The one instant format of JSON output: ISO 8601 in UTC with seconds, its offset written
    `Z` (2026-11-30T14:30:00Z)."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # the database's naive values are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def human_when(moment: datetime | None, tz: ZoneInfo, lang: str) -> str:
    """A time for people, in the policy's zone and naming it: `lun 30 nov 2026 08:30 CST`."""
    from ..rules.explain import format_when

    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{format_when(moment, tz, lang)} {moment.astimezone(tz):%Z}"


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def require_migrated(url: str) -> None:
    """Refuse to start on a schema behind the code (`run`, `worker` and `clock` alike); start
    anyway when the database is down (readiness reports it, and the service picks the database
    up when it returns)."""
    from sqlalchemy.exc import DBAPIError

    from .. import db

    engine = db.make_engine(url)
    try:
        current = db.current_revision(engine)
    except DBAPIError as exc:
        logging.getLogger("integration").warning(
            "database %s unreachable at start-up (%s); starting anyway",
            safe_url(url),
            db.describe_error(exc, url),
        )
        return
    finally:
        engine.dispose()
    head = db.head_revision()
    if current != head:
        raise UserError(
            f"database at revision {current or 'none'}, code needs {head}: "
            "run `python -m integration db upgrade` (or `make run`)"
        )
