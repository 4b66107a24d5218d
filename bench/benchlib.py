"""What the process-level benchmarks share (bench_ingest, bench_worker, bench_e2e): fresh
databases, event bodies, free ports, the peak RSS of processes, SQL statement counters and
min/median/max summaries. Imported by the scripts in this folder (run as `python bench/X.py`,
this folder is on sys.path). Measures only: nothing here changes the service's behaviour.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WEBHOOK_PATH = "/webhooks/zoho-desk"
ORG_ID = "60001234567"
WEBHOOK_ID = "bench"

SUBJECTS = [
    "Ataque masivo de SPAM en nuestros buzones",
    "Servicio caído: la tienda no levanta",
    "¿Cómo configuro Outlook en mi iPhone?",
    "Renovación de licencia Zoho",
    "El sitio está muy lento desde ayer",
    "No puedo enviar correos, contraseña incorrecta",
    "Cotización para desarrollo de un módulo",
    "Error 502 en el servidor de correo",
]


# ---- databases ------------------------------------------------------------------------------


class FreshDatabase:
    """A new, migrated database: a SQLite file in a temporary folder, or a PostgreSQL database
    of its own on the server of `postgres_url` (created here, dropped by `drop`)."""

    def __init__(self, kind: str, tag: str, postgres_url: str = DEFAULT_POSTGRES_URL) -> None:
        from integration import db

        self.kind = kind
        self.workdir = tempfile.mkdtemp(prefix=f"bench-{tag}-")
        if kind == "sqlite":
            self.url = f"sqlite:///{self.workdir}/bench.db"
        elif kind == "postgresql":
            self.server = make_url(postgres_url)
            self.name = f"bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = self.server.set(database=self.name).render_as_string(hide_password=False)
        else:
            raise SystemExit(f"unknown database kind {kind!r} (sqlite or postgresql)")
        try:
            db.upgrade(self.url)
        except BaseException:
            self.drop()
            raise

    def _admin(self, sql: str) -> None:
        from integration import db

        engine = db.make_engine(self.server.render_as_string(hide_password=False))
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.kind == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> FreshDatabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.drop()


def postgres_reachable(url: str = DEFAULT_POSTGRES_URL) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from integration import db

    engine = db.make_engine(url)
    try:
        db.ping(engine)
        return True
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def databases(choice: str, postgres_url: str) -> list[str]:
    """The kinds `--db sqlite|postgresql|both` names, PostgreSQL only when it answers."""
    kinds = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in kinds and not postgres_reachable(postgres_url):
        print(f"note: PostgreSQL at {postgres_url} does not answer: skipped", file=sys.stderr)
        kinds.remove("postgresql")
    return kinds


def inbox_counts(url: str) -> dict[str, int]:
    """Inbox events by status (one short-lived connection)."""
    from integration import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, count(*) FROM inbox_events GROUP BY status")
            ).all()
        return {status: int(count) for status, count in rows}
    finally:
        engine.dispose()


def queue_counts(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """(inbox events by status, outbox writes by status)."""
    from integration import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            events = connection.execute(
                text("SELECT status, count(*) FROM inbox_events GROUP BY status")
            ).all()
            writes = connection.execute(
                text("SELECT status, count(*) FROM outbox GROUP BY status")
            ).all()
        return {s: int(n) for s, n in events}, {s: int(n) for s, n in writes}
    finally:
        engine.dispose()


# ---- events ---------------------------------------------------------------------------------


def zoho_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ticket_id(i: int) -> str:
    return str(432100000100000000 + i)


def ticket_payload(i: int, created: datetime) -> dict[str, Any]:
    """A ticket like examples/ticket_add.json, with a distinct id, number and subject; created
    at `created` (recent: the service classifies tickets first seen within an hour of creation)."""
    return {
        "id": ticket_id(i),
        "ticketNumber": str(10000 + i),
        "subject": f"{SUBJECTS[i % len(SUBJECTS)]} (#{i})",
        "description": "<div>Desde esta mañana recibimos cientos de correos basura.</div>",
        "status": "Open",
        "statusType": "Open",
        "priority": "Medium",
        "channel": "Email",
        "departmentId": "432100000000006907",
        "accountId": "432100000001000099",
        "createdTime": zoho_time(created),
        "modifiedTime": zoho_time(created),
        "cf": {"cf_sla_response_due": None, "cf_sla_status": None},
    }


def zoho_event(
    kind: str,
    payload: dict[str, Any],
    at: datetime,
    prev_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventType": kind,
        "eventTime": str(int(at.timestamp() * 1000)),
        "orgId": ORG_ID,
        "payload": payload,
    }
    if prev_state is not None:
        body["prevState"] = prev_state
    return body


def add_event(i: int, now: datetime) -> dict[str, Any]:
    """Ticket_Add of ticket `i`, created a few minutes before `now`."""
    created = now - timedelta(minutes=5) + timedelta(milliseconds=i)
    return zoho_event("Ticket_Add", ticket_payload(i, created), created)


def update_event(i: int, now: datetime) -> dict[str, Any]:
    """Ticket_Update of ticket `i`: an agent puts it on hold (waiting on the customer)."""
    created = now - timedelta(minutes=5) + timedelta(milliseconds=i)
    before = ticket_payload(i, created)
    after = {
        **before,
        "status": "Waiting on customer",
        "statusType": "On Hold",
        "modifiedTime": zoho_time(created + timedelta(minutes=2)),
    }
    prev = {"status": "Open", "statusType": "Open"}
    return zoho_event("Ticket_Update", after, created + timedelta(minutes=2), prev)


def delivery(events: Iterable[dict[str, Any]]) -> bytes:
    return json.dumps(list(events), ensure_ascii=False).encode()


# ---- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a service process: this one's, no `.env` read, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOHO_", "WEBHOOK_"))}
    env.pop("DATABASE_URL", None)
    env.update({"INTEGRATION_DOTENV": "", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def venv_bin(name: str) -> str:
    """A console script of the interpreter's environment (gunicorn), as the Procfile calls it."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"no {name}: line in the Procfile")


def gunicorn_command(app_spec: str, port: int, workers: int, threads: int) -> list[str]:
    """The Procfile's `web` line (read from it, its variables filled in), bound to loopback
    instead of 0.0.0.0 (a benchmark only talks to this machine), serving `app_spec`."""
    import shlex

    line = procfile_line("web")
    line = line.replace("${PORT:-8000}", str(port))
    line = line.replace("${WEB_WORKERS:-2}", str(workers))
    line = line.replace("${WEB_THREADS:-4}", str(threads))
    line = line.replace("0.0.0.0:", "127.0.0.1:")
    argv = shlex.split(line)
    if "$" in line or argv[0] != "gunicorn":
        raise SystemExit(f"the Procfile's web line changed, update bench: {line}")
    argv[0] = venv_bin("gunicorn")
    argv[-1] = app_spec
    return argv


def wait_http(port: int, path: str = "/healthz", timeout_s: float = 30.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answers on 127.0.0.1:{port}{path}")
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                kids = [int(k) for k in handle.read().split()]
        except OSError:
            continue
        for kid in kids:
            found.append(kid)
            found.extend(children(kid))
    return found


def peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident set (VmHWM), in MB; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def tree_peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak RSS of a process and of each descendant: {"master": MB, "child-<pid>": MB...}."""
    peaks: dict[str, float] = {}
    own = peak_rss_mb(pid)
    if own is not None:
        peaks["master"] = own
    for kid in children(pid):
        rss = peak_rss_mb(kid)
        if rss is not None:
            peaks[f"child-{kid}"] = rss
    return peaks


def own_peak_rss_mb() -> float:
    """This process's peak RSS (Linux reports ru_maxrss in KB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    """SIGTERM (a clean stop, as a supervisor does), SIGKILL if it does not end."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- SQL statement counting -----------------------------------------------------------------

_DIRECT = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)
_FROM = re.compile(r"\bFROM\s+\"?(\w+)", re.IGNORECASE)


def statement_kind(statement: str) -> str:
    """`SELECT tickets`, `UPDATE inbox_events`, ...: the verb and its table."""
    direct = _DIRECT.match(statement)
    if direct:
        return f"{direct.group(1).upper()} {direct.group(2)}"
    words = statement.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb in ("SELECT", "WITH"):
        found = _FROM.search(statement)
        return f"SELECT {found.group(1)}" if found else "SELECT"
    return verb


class StatementCounter:
    """Counts what an engine sends, through SQLAlchemy's events: statements (cursor executes,
    BEGIN of SQLite counted apart), transactions begun, commits, rollbacks, pool checkouts (each
    a ping round trip with `pool_pre_ping`), and the time spent inside the driver's execute."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.active = False
        self.statements = 0
        self.begins = 0
        self.commits = 0
        self.rollbacks = 0
        self.checkouts = 0
        self.db_time_s = 0.0
        self.kinds: Counter[str] = Counter()
        self.cache: Counter[str] = Counter()
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        event.listen(engine.pool, "checkout", self._checkout)

    def _before(
        self, _conn: Any, cursor: Any, statement: str, _params: Any, context: Any, *_: Any
    ) -> None:
        if not self.active:
            return
        self._started[id(cursor)] = time.perf_counter()
        if statement.lstrip()[:5].upper() == "BEGIN":
            return  # SQLite's BEGIN IMMEDIATE: counted by the begin event
        self.statements += 1
        self.kinds[statement_kind(statement)] += 1
        # SQLAlchemy's compiled cache: a miss compiles the statement again (CPU, not SQL)
        self.cache[str(getattr(context, "cache_hit", "none")).lower().split(".")[-1]] += 1

    def _after(self, _conn: Any, cursor: Any, *_: Any) -> None:
        began = self._started.pop(id(cursor), None)
        if began is not None:
            self.db_time_s += time.perf_counter() - began

    def _begin(self, _conn: Any) -> None:
        self.begins += self.active

    def _commit(self, _conn: Any) -> None:
        self.commits += self.active

    def _rollback(self, _conn: Any) -> None:
        self.rollbacks += self.active

    def _checkout(self, *_: Any) -> None:
        self.checkouts += self.active

    def figures(self) -> dict[str, Any]:
        return {
            "statements": self.statements,
            "begins": self.begins,
            "commits": self.commits,
            "rollbacks": self.rollbacks,
            "checkouts": self.checkouts,
            "db_time_s": round(self.db_time_s, 3),
            "kinds": dict(self.kinds),
            "compiled_cache": dict(self.cache),
        }


# ---- figures --------------------------------------------------------------------------------


def percentile_ms(ordered: Sequence[float], p: float) -> float:
    """The p-quantile (nearest rank) of sorted seconds, in ms."""
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))
    return round(ordered[rank] * 1000, 2)


def spread(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """min / median / max of the runs' values."""
    return {
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "max": round(max(values), digits),
    }


def shown(summary: dict[str, float]) -> str:
    return f"{summary['min']:g} / {summary['median']:g} / {summary['max']:g}"


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_avg_1m_at_start": round(load[0], 2),
    }
