"""End-to-end fixtures: the fake Zoho Desk on a port, the service's web app on a port, and the
real worker, all sharing one controllable clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from integration.app import create_app
from integration.config import settings_from_mapping
from integration.container import Container
from integration.pipeline.worker import Worker
from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import FakeZohoServer, event

MEXICO = ZoneInfo("America/Mexico_City")
WEBHOOK_ID = "5001"


def mx(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MEXICO)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ServedApp:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Service:
    """Everything a scenario drives."""

    desk: FakeDesk
    zoho: FakeZohoServer
    web: ServedApp
    container: Container
    clock: Clock

    @property
    def webhook_url(self) -> str:
        return f"{self.web.url}/webhooks/zoho-desk"

    def deliver(self, *events: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.zoho.deliver(self.webhook_url, events, webhook_id=WEBHOOK_ID, **kwargs)

    def work(self) -> None:
        with Worker(self.container) as worker:
            worker.run_until_idle()

    def add(self, **fields: Any) -> dict[str, Any]:
        """An agent/customer creates a ticket in Zoho; Zoho fires Ticket_Add."""
        ticket = self.desk.create_ticket(**fields)
        assert self.deliver(event("Ticket_Add", ticket, self.desk.org_id)).status_code == 200
        return ticket

    def agent_update(self, ticket_id: str, **fields: Any) -> dict[str, Any]:
        """An agent edits the ticket in Zoho (not through our client); Zoho fires Ticket_Update."""
        before = self.desk.get_ticket(ticket_id)
        self.desk.agent_edit(ticket_id, fields)
        after = self.desk.get_ticket(ticket_id)
        response = self.deliver(event("Ticket_Update", after, self.desk.org_id, prev_state=before))
        assert response.status_code == 200
        return after

    def agent_reply(self, ticket_id: str) -> dict[str, Any]:
        thread = self.desk.add_thread(ticket_id)
        payload = {**thread, "ticketId": ticket_id}
        assert (
            self.deliver(event("Ticket_Thread_Add", payload, self.desk.org_id)).status_code == 200
        )
        return thread


def claim_write(service: Service, worker: Worker) -> Any:
    """`worker` takes the next due write, as its round would, and holds it (to be sent later:
    races with other workers and with Zoho are played out between the two)."""
    from integration import db
    from integration.models import OutboxWrite
    from integration.pipeline import claim

    with db.transaction(service.container.sessions) as session:
        [row] = claim.claim(
            session,
            OutboxWrite,
            owner=worker.owner,
            now=service.clock(),
            lease=worker.writer.lease,
            limit=1,
            order_by=[OutboxWrite.ticket_id],
        )
    return row


def service_settings(database_url: str, zoho_url: str, desk: FakeDesk, **extra: str) -> Any:
    values = {
        "DATABASE_URL": database_url,
        "ZOHO_DESK_BASE_URL": zoho_url,
        "ZOHO_ACCOUNTS_URL": zoho_url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "ZOHO_WEBHOOK_ID": WEBHOOK_ID,
        "WEBHOOK_AUTH": "jwt",
        "WORKER_BACKOFF_S": "0.01",
        "WORKER_BACKOFF_MAX_S": "0.05",
        "ZOHO_MAX_RETRIES": "1",
    }
    values.update(extra)
    return settings_from_mapping(values)


@pytest.fixture
def clock() -> Clock:
    return Clock(mx("2026-11-27 18:30"))


@contextmanager
def running_service(
    database_url: str, clock: Clock, settings: dict[str, str] | None = None, **overrides: Any
) -> Iterator[Service]:
    """The fake Zoho, the web app and a worker's container; `settings` are variables on top of
    the scenario's, `overrides` go to create_app."""
    desk = FakeDesk(clock=clock)
    with FakeZohoServer(desk) as zoho:
        config = service_settings(database_url, zoho.url, desk, **(settings or {}))
        app = create_app(config, clock=clock, **overrides)
        web = ServedApp(app)
        try:
            yield Service(desk, zoho, web, app.extensions["integration"], clock)
        finally:
            web.stop()
            app.extensions["integration"].dispose()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[Service]:
    with running_service(database_url, clock) as running:
        yield running


@pytest.fixture
def cli_on_service_database(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CLI commands (`main([...])`) read the running service's database, from a folder of
    their own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
