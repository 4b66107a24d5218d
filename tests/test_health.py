"""Liveness and readiness: every check named in the JSON, each failing in turn on its own, a real
database outage and its recovery, and the one warning line printed at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from integration import db
from integration.app import create_app
from integration.config import settings_from_mapping
from integration.health import beat, startup_warning
from integration.models import InboxEvent, OutboxWrite
from integration.zoho.fake import FakeDesk
from tests.conftest import TEST_DATABASE_URL, on_postgres
from tests.pipeline.conftest import Clock, mx, service_settings
from tests.tcp_proxy import TcpProxy

CHECKS = ["database", "webhook_auth", "zoho_auth", "inbox", "outbox", "worker", "clock"]
# A service that can take deliveries: a webhook token, no Zoho credentials (dry-run).
WORKING = {"WEBHOOK_AUTH": "token", "WEBHOOK_TOKEN": "s3cret"}


@pytest.fixture
def clock() -> Clock:
    return Clock(mx("2026-11-27 12:00"))


@pytest.fixture
def make_app(database_url: str, clock: Clock) -> Iterator[Any]:
    """A web app on the test database with settings on top of WORKING, its worker and clock
    heartbeats fresh (as if both ran a moment ago)."""
    apps: list[Flask] = []

    def make(url: str = database_url, heartbeats: bool = True, **settings: str) -> Flask:
        app = create_app(
            settings_from_mapping({"DATABASE_URL": url, **WORKING, **settings}), clock=clock
        )
        apps.append(app)
        if heartbeats:
            sessions = app.extensions["integration"].sessions
            beat(sessions, "worker", "worker-1", clock())
            beat(sessions, "clock", "clock-1", clock())
        return app

    yield make
    for app in apps:
        app.extensions["integration"].dispose()


def readiness(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def detail(body: dict[str, Any], name: str) -> str:
    [check] = [c for c in body["checks"] if c["name"] == name]
    return str(check["detail"])


def test_healthz_is_ok_and_touches_nothing(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_a_working_service_is_ready_and_names_every_check(make_app) -> None:  # type: ignore[no-untyped-def]
    code, body = readiness(make_app())
    assert code == 200, body
    assert body["status"] == "ready"
    assert [c["name"] for c in body["checks"]] == CHECKS
    assert all(c["ok"] for c in body["checks"])
    assert detail(body, "zoho_auth").startswith("dry-run")


def test_an_unmigrated_database_fails_readiness_naming_the_upgrade_command(  # type: ignore[no-untyped-def]
    make_app, tmp_path
) -> None:
    code, body = readiness(make_app(f"sqlite:///{tmp_path}/empty.db", heartbeats=False))
    assert code == 503
    assert body["failing"] == ["database"]
    assert "schema at revision none" in detail(body, "database")
    assert "`python -m integration db upgrade`" in detail(body, "database")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"WEBHOOK_AUTH": "jwt", "ZOHO_ORG_ID": "1"}, "ZOHO_WEBHOOK_ID"),
        ({"WEBHOOK_AUTH": "token", "WEBHOOK_TOKEN": ""}, "WEBHOOK_TOKEN"),
        ({"WEBHOOK_AUTH": "jwt+token", "ZOHO_ORG_ID": "1", "ZOHO_WEBHOOK_ID": "5"}, None),
    ],
)
def test_webhook_auth_without_what_it_needs_fails_naming_the_setting(  # type: ignore[no-untyped-def]
    make_app, settings: dict[str, str], named: str | None
) -> None:
    values = {"WEBHOOK_TOKEN": "s3cret", **settings}
    code, body = readiness(make_app(**values))
    if named is None:  # jwt+token with all three: nothing missing
        assert code == 200, body
        return
    assert code == 503
    assert body["failing"] == ["webhook_auth"]
    assert named in detail(body, "webhook_auth")


def test_three_of_the_four_zoho_credentials_fail_naming_the_missing_one(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(ZOHO_ORG_ID="1", ZOHO_CLIENT_ID="id", ZOHO_CLIENT_SECRET="secret")
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == ["zoho_auth"]
    assert detail(body, "zoho_auth").startswith("ZOHO_REFRESH_TOKEN not set")
    assert "secret" not in detail(body, "zoho_auth").replace("ZOHO_CLIENT_SECRET", "")


def test_an_old_pending_event_fails_the_inbox_check(make_app, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(READY_INBOX_MAX_AGE_S="600")
    add_event(app, received_at=clock() - timedelta(minutes=11))
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == ["inbox"]
    assert "received 660 s ago" in detail(body, "inbox")


def test_a_recent_pending_event_keeps_the_inbox_check_passing(make_app, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(READY_INBOX_MAX_AGE_S="600")
    add_event(app, received_at=clock() - timedelta(minutes=9))
    code, body = readiness(app)
    assert code == 200, body
    assert "received 540 s ago" in detail(body, "inbox")


def test_more_failed_writes_than_the_threshold_fail_the_outbox_check(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(READY_OUTBOX_MAX_FAILED="1")
    add_write(app, "1", "failed")
    assert readiness(app)[0] == 200
    add_write(app, "2", "failed")
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == ["outbox"]
    assert detail(body, "outbox").startswith("2 failed write-back(s)")


@pytest.mark.parametrize("process", ["worker", "clock"])
def test_a_stale_heartbeat_fails_its_check(make_app, clock: Clock, process: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(READY_WORKER_MAX_AGE_S="120", READY_CLOCK_MAX_AGE_S="120")
    sessions = app.extensions["integration"].sessions
    beat(sessions, process, f"{process}-1", clock() - timedelta(minutes=3))
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == [process]
    assert detail(body, process).startswith(f"last beat 180 s ago by {process}-1")


@pytest.mark.parametrize("process", ["worker", "clock"])
def test_a_process_that_never_ran_fails_its_check(make_app, process: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(heartbeats=False)
    other = "clock" if process == "worker" else "worker"
    container = app.extensions["integration"]
    beat(container.sessions, other, f"{other}-1", container.clock())
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == [process]
    assert detail(body, process).startswith(f"no {process} has run yet")


def test_a_threshold_of_zero_reports_without_failing(make_app, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(heartbeats=False, READY_WORKER_MAX_AGE_S="0", READY_CLOCK_MAX_AGE_S="0",
                   READY_INBOX_MAX_AGE_S="0")  # fmt: skip
    add_event(app, received_at=clock() - timedelta(days=2))
    code, body = readiness(app)
    assert code == 200, body
    assert detail(body, "worker") == "no worker has run yet"
    assert "received 172800 s ago" in detail(body, "inbox")


def test_the_startup_warning_is_one_line_naming_what_is_missing(database_url: str) -> None:
    settings = settings_from_mapping(
        {"DATABASE_URL": database_url, "ZOHO_ORG_ID": "1", "ZOHO_CLIENT_ID": "id"}
    )
    app = create_app(settings)
    try:
        warning = startup_warning(app.extensions["integration"])
    finally:
        app.extensions["integration"].dispose()
    assert warning is not None and "\n" not in warning
    assert warning.startswith(
        "warning: not ready: webhook_auth: WEBHOOK_AUTH=jwt needs ZOHO_WEBHOOK_ID"
    )
    assert "zoho_auth: ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN not set" in warning


def test_a_working_configuration_prints_no_startup_warning(make_app) -> None:  # type: ignore[no-untyped-def]
    assert startup_warning(make_app(heartbeats=False).extensions["integration"]) is None


def test_unreachable_database_is_not_ready_but_alive(make_app) -> None:  # type: ignore[no-untyped-def]
    # Port 1 on loopback refuses connections: the database is down.
    app = make_app(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", heartbeats=False, DB_CONNECT_TIMEOUT_S="1"
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    code, body = readiness(app)
    assert code == 503
    assert body["failing"] == ["database"]
    assert detail(body, "worker") == "unknown: the database is unavailable"


def test_live_mode_starts_while_the_database_is_down() -> None:
    # Zoho credentials set (live write-back), the database refusing connections at start-up.
    settings = service_settings(
        "postgresql+psycopg://u@127.0.0.1:1/x", "http://127.0.0.1:1", FakeDesk(),
        DB_CONNECT_TIMEOUT_S="1",
    )  # fmt: skip
    app = create_app(settings)
    assert app.extensions["integration"].live
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.get_json()["failing"]


def test_unknown_route_is_json_404(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_readiness_recovers_after_a_database_outage_without_restart(make_app) -> None:  # type: ignore[no-untyped-def]
    url = make_url(TEST_DATABASE_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        app = make_app(proxied.render_as_string(hide_password=False), DB_CONNECT_TIMEOUT_S="1")
        client = app.test_client()
        assert client.get("/readyz").status_code == 200

        proxy.cut()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.get_json()["failing"] == ["database"]
        assert client.get("/healthz").status_code == 200

        proxy.restore()
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.close()


def test_an_unexpected_error_is_a_json_500(app) -> None:  # type: ignore[no-untyped-def]
    def boom() -> str:
        raise RuntimeError("secret detail that must not leak")

    app.add_url_rule("/boom", "boom", boom)
    app.testing = False  # as in production: handled, not re-raised
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal_error", "detail": "see the service log"}


def add_event(app: Flask, *, received_at: Any, status: str = "pending") -> None:
    with db.transaction(app.extensions["integration"].sessions) as session:
        session.add(
            InboxEvent(
                dedupe_key=f"k-{received_at.isoformat()}-{status}",
                received_at=received_at,
                event_type="Ticket_Add",
                ticket_id="1",
                body="{}",
                status=status,
                available_at=received_at,
            )
        )


def add_write(app: Flask, ticket_id: str, status: str) -> None:
    container = app.extensions["integration"]
    with db.transaction(container.sessions) as session:
        session.add(
            OutboxWrite(
                ticket_id=ticket_id, status=status, available_at=container.clock(),
                updated_at=container.clock(),
            )
        )  # fmt: skip


def test_a_workers_heartbeat_detail_reads_back_as_written() -> None:
    from integration.health import WorkerBeat

    said = WorkerBeat("worker-12-ab34cd56", "live", 74981)
    assert said.detail() == "worker-12-ab34cd56; write-back live; credits left 74981"
    assert WorkerBeat.parse(said.detail()) == said
    assert WorkerBeat.parse("worker-12-ab34cd56") == WorkerBeat("worker-12-ab34cd56")
