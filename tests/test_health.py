"""Liveness and readiness, including a real database outage and its recovery."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from integration.app import create_app
from integration.config import settings_from_mapping
from integration.zoho.fake import FakeDesk
from tests.conftest import TEST_DATABASE_URL, on_postgres
from tests.pipeline.conftest import service_settings
from tests.tcp_proxy import TcpProxy


def test_healthz_is_ok_and_touches_nothing(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_lists_the_database_check(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert [c["name"] for c in body["checks"]] == ["database", "clock"]
    assert body["checks"][1]["detail"] == "no clock has run yet"
    assert body["checks"][0]["ok"] is True


def test_unreachable_database_is_not_ready_but_alive() -> None:
    # Port 1 on loopback refuses connections: the database is down.
    app = create_app(
        settings_from_mapping(
            {
                "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
                "DB_CONNECT_TIMEOUT_S": "1",
            }
        )
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]


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
def test_readiness_recovers_after_a_database_outage_without_restart() -> None:
    url = make_url(TEST_DATABASE_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        app = create_app(
            settings_from_mapping(
                {
                    "DATABASE_URL": proxied.render_as_string(hide_password=False),
                    "DB_CONNECT_TIMEOUT_S": "1",
                }
            )
        )
        client = app.test_client()
        assert client.get("/readyz").status_code == 200

        proxy.cut()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.get_json()["failing"] == ["database"]
        assert client.get("/healthz").status_code == 200

        proxy.restore()
        assert client.get("/readyz").status_code == 200
        app.extensions["integration"].dispose()
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
