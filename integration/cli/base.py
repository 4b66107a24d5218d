"""What every command shares: the `cli` group, the settings and container of a command, and the
one-line error for mistakes a person can fix."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

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
