"""`run` (the all-in-one service), `db` (migrations) and `config` (settings) commands."""

from __future__ import annotations

import errno
import logging
import re
import socket
import sys
import threading

import click
from werkzeug.serving import WSGIRequestHandler

from ..config import Secret, setting_fields
from .base import (
    UserError,
    cli,
    container_of,
    refuse_second_worker,
    require_migrated,
    safe_url,
    settings_of,
    stop_on_signals,
)

log = logging.getLogger("integration")


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the all-in-one service: web server, worker and clock in one process.

    Listens on HOST:PORT (0: any free port) and prints one line: the address, the database
    (DATABASE_URL, password hidden) and whether Zoho write-back is live or dry-run (dry-run
    unless the four ZOHO_* credentials are set). Webhooks are authenticated as WEBHOOK_AUTH
    says. CLOCK_ENABLED=false leaves the clock to a separate `clock` process.

    Settings come from the environment over `.env` (`config show` prints them;
    config.example.env documents each). Refuses a database behind the code's migrations
    (`db upgrade` first; `make run` does both) and, on SQLite, a second process with a worker
    on the same file. Stops cleanly on SIGTERM or Ctrl-C."""
    from werkzeug.serving import make_server

    from ..app import create_app
    from ..clock.scheduler import ClockProcess
    from ..health import startup_line, startup_warning
    from ..logs import configure_logging
    from ..pipeline.worker import Worker

    settings = settings_of(ctx)
    configure_logging(settings.log_level, settings.log_format)
    require_migrated(settings.database_url)
    app = create_app(settings, **dict(ctx.obj.get("overrides") or {}))
    container = app.extensions["integration"]
    refuse_second_worker(container)
    try:
        listener = listen(settings.host, settings.port)
    except OSError as exc:
        container.dispose()
        raise UserError(listen_problem(settings.host, settings.port, exc)) from None
    with listener:  # werkzeug serves a duplicate of it
        server = make_server(
            settings.host,
            settings.port,
            app,
            threaded=True,
            request_handler=_RedactingHandler,
            fd=listener.fileno(),
        )
    stop = stop_on_signals(
        container.wake_worker,
        lambda: threading.Thread(target=server.shutdown, daemon=True).start(),
    )
    worker = threading.Thread(target=Worker(container).run, args=(stop,), name="worker")
    worker.start()
    clock = threading.Thread(target=ClockProcess(container).run, args=(stop,), name="clock")
    if settings.clock_enabled:
        clock.start()
    click.echo(startup_line(container, f"http://{settings.host}:{server.port}"))
    sys.stdout.flush()
    warning = startup_warning(container)
    if warning:
        click.echo(warning, err=True)

    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        container.wake_worker()
        worker.join(timeout=30)
        if clock.is_alive():
            clock.join(timeout=30)
        container.dispose()


@cli.command("clock")
@click.pass_context
def clock_command(ctx: click.Context) -> None:
    """Run the clock (status sweep, warnings, reminders, reconciliation poll) until SIGTERM.
    Start as many as you like on PostgreSQL: one is active, the others take over if it dies."""
    from ..clock.scheduler import ClockProcess
    from ..logs import configure_logging

    settings = settings_of(ctx)
    configure_logging(settings.log_level, settings.log_format)
    require_migrated(settings.database_url)
    container = container_of(ctx)
    stop = stop_on_signals()
    click.echo(
        f"clock: database={safe_url(settings.database_url)} "
        f"zoho-write-back={settings.write_back_mode} sweep every {settings.clock_interval_s} s"
    )
    try:
        ClockProcess(container).run(stop)
    finally:
        container.dispose()


def listen(host: str, port: int) -> socket.socket:
    """The listening socket of `run`, bound here so that a port in use or a host that does not
    resolve is an error of ours (werkzeug would print two lines and exit 1)."""
    from werkzeug.serving import LISTEN_QUEUE, select_address_family

    family = select_address_family(host, port)
    if family == socket.AF_UNIX:
        raise OSError(errno.EINVAL, "a unix socket is not supported, use an address")
    address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_QUEUE)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why `run` cannot listen, naming the setting to change."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, socket.gaierror):
        return f"HOST: cannot resolve {host!r} ({reason})"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"PORT: {host}:{port} is already in use (is the service already running? "
            "set PORT to another port)"
        )
    return f"HOST/PORT: cannot listen on {host}:{port} ({reason})"


class _RedactingHandler(WSGIRequestHandler):
    """Access log lines without the webhook's `?token=` secret."""

    def log(self, type: str, message: str, *args: object) -> None:
        super().log(type, message, *(SECRET_QUERY.sub(r"\1***", str(a)) for a in args))


SECRET_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="the Alembic revision to reach")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from .. import db

    settings = settings_of(ctx)
    db.upgrade(settings.database_url, revision)
    click.echo(f"database {safe_url(settings.database_url)} at revision {revision}")


@db_group.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the applied migration revision."""
    from .. import db

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
        click.echo(f"{env}={shown_setting(env, getattr(settings, name))}")


def shown_setting(env: str, value: object) -> str:
    """A setting as it would be written in `.env`: a secret only says whether it is set."""
    if isinstance(value, Secret):
        return "<hidden>" if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if env == "DATABASE_URL":
        return safe_url(str(value))
    return str(value)
