"""Command line: `python -m integration ...` (also installed as `integration`).

Errors a person can fix (a bad setting, a bad argument) print one line on stderr and exit 2.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler

from .config import ConfigError, Settings, load_settings, setting_fields

log = logging.getLogger("integration")


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
    from .app import build_container

    return build_container(settings_of(ctx), **dict(ctx.obj.get("overrides") or {}))


def clock_of(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The clock commands that need no container read "now" from."""
    from .app import utc_now

    return (ctx.obj.get("overrides") or {}).get("clock") or utc_now


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the all-in-one service (web now; worker and clock join it as they land)."""
    from werkzeug.serving import make_server

    from .app import create_app
    from .logs import configure_logging
    from .worker import Worker

    settings = settings_of(ctx)
    configure_logging(settings.log_level, settings.log_format)
    _require_migrated(settings.database_url)
    app = create_app(settings, **dict(ctx.obj.get("overrides") or {}))
    container = app.extensions["integration"]
    server = make_server(
        settings.host, settings.port, app, threaded=True, request_handler=_RedactingHandler
    )
    stop = threading.Event()
    worker = threading.Thread(target=Worker(container).run, args=(stop,), name="worker")
    worker.start()
    click.echo(
        f"listening on http://{settings.host}:{server.port} "
        f"database={safe_url(settings.database_url)} "
        f"zoho-write-back={settings.write_back_mode}",
        err=False,
    )
    sys.stdout.flush()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: shutting down", signum)
        stop.set()
        container.wake_worker()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        container.wake_worker()
        worker.join(timeout=30)
        container.dispose()


class _RedactingHandler(WSGIRequestHandler):
    """Access log lines without the webhook's `?token=` secret."""

    def log(self, type: str, message: str, *args: object) -> None:
        super().log(type, message, *(SECRET_QUERY.sub(r"\1***", str(a)) for a in args))


SECRET_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


def _require_migrated(url: str) -> None:
    """Refuse to run on a schema behind the code; start anyway when the database is down
    (readiness reports it, and the service picks the database up when it returns)."""
    from sqlalchemy.exc import OperationalError

    from . import db

    engine = db.make_engine(url)
    try:
        current = db.current_revision(engine)
    except OperationalError as exc:
        log.warning("database unreachable at start-up (%s); starting anyway", type(exc).__name__)
        return
    finally:
        engine.dispose()
    head = db.head_revision()
    if current != head:
        raise UserError(
            f"database at revision {current or 'none'}, code needs {head}: "
            "run `python -m integration db upgrade` (or `make run`)"
        )


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from . import db

    settings = settings_of(ctx)
    db.upgrade(settings.database_url, revision)
    click.echo(f"database {safe_url(settings.database_url)} at revision {revision}")


@db_group.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the applied migration revision."""
    from . import db

    settings = settings_of(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        click.echo(db.current_revision(engine) or "none")
    finally:
        engine.dispose()


@cli.group("config")
def config_group() -> None:
    """Settings."""


@config_group.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print every setting with its value (secrets hidden)."""
    settings = settings_of(ctx)
    for name, env, _default, _doc in setting_fields():
        value = getattr(settings, name)
        if env == "DATABASE_URL":
            value = safe_url(value)
        click.echo(f"{env}={value}")


def main(argv: Sequence[str] | None = None, **overrides: Any) -> int:
    """The entry point. `overrides` (a clock, fakes) reach every container a command builds,
    as they would reach `create_app`."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            standalone_mode=False,
            prog_name="integration",
            obj={"overrides": overrides},
        )
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    return result if isinstance(result, int) else 0


# Command groups defined in their own modules register on `cli` when imported.
from . import inbox_cli, sla_cli, zoho_cli  # noqa: E402, F401
