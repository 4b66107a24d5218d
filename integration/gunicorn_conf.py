"""gunicorn settings of the Procfile's `web` process:
`gunicorn -c python:integration.gunicorn_conf ... 'integration.app:create_app()'`.

- `when_ready` (the master, once, after binding): the same start-up line as `run` (where it
  listens, the database, the write-back mode) and, when the service cannot work as configured,
  one warning line naming what is missing (the readiness checks `database`, `webhook_auth`,
  `zoho_auth`). Printed once, not once per worker.
- `on_starting`: on SQLite, one web process (SQLite has one writer), with the threads of all.
- `child_exit`: with `PROMETHEUS_MULTIPROC_DIR`, a dead worker's live gauges are dropped
  (prometheus-client's multiprocess mode).

Nothing is read at import time: gunicorn calls these hooks.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def on_starting(server: Any) -> None:
    """SQLite has one writer: on SQLite the web runs one process, with the threads the command
    line gave all its processes (WEB_WORKERS x WEB_THREADS), so deliveries queue on a lock in
    that process instead of in SQLite's busy handler across processes."""
    from .config import ConfigError, load_settings
    from .db import is_sqlite

    try:
        url = load_settings(only={"DATABASE_URL"}).database_url
    except ConfigError:
        return  # when_ready says what is wrong
    if not is_sqlite(url) or server.num_workers <= 1:
        return
    threads = server.num_workers * max(1, server.cfg.threads)
    server.cfg.set("threads", threads)
    server.num_workers = 1
    print(
        f"note: SQLite: one web process with {threads} threads (SQLite has one writer)",
        file=sys.stderr,
        flush=True,
    )


def when_ready(server: Any) -> None:
    from .config import ConfigError
    from .container import build_container
    from .health import startup_line, startup_warning

    try:
        container = build_container()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return
    try:
        address = ", ".join(str(listener) for listener in server.LISTENERS)
        print(startup_line(container, address), flush=True)
        warning = startup_warning(container)
        if warning:
            print(warning, file=sys.stderr, flush=True)
    finally:
        container.dispose()


def child_exit(server: Any, worker: Any) -> None:
    from .metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
