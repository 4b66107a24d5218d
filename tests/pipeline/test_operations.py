"""Dry-run, Zoho outages, failed write-backs and the inbox command line.

Policy: the shipped Ignus policy; tickets are the seed example "Ataque masivo de SPAM" (High)
created Friday 27 Nov 2026 18:30 Mexico City.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from integration.app import create_app
from integration.cli import main
from integration.config import settings_from_mapping
from integration.models import AuditEntry, InboxEvent, OutboxWrite, TrackedTicket
from integration.pipeline.worker import Worker
from integration.zoho.fake import Fault
from integration.zoho.fake_server import event
from tests.conftest import on_postgres
from tests.pipeline.conftest import Clock, Service

SPAM_TICKET = {
    "id": "432100000012345678",
    "subject": "Ataque masivo de SPAM",
    "status": "Open",
    "statusType": "Open",
    "priority": "Medium",
    "createdTime": "2026-11-28T00:30:00.000Z",
    "modifiedTime": "2026-11-28T00:30:00.000Z",
    "cf": {},
}


@pytest.fixture
def dry_run_app(database_url: str, clock: Clock):  # type: ignore[no-untyped-def]
    app = create_app(
        settings_from_mapping(
            {"DATABASE_URL": database_url, "WEBHOOK_AUTH": "token", "WEBHOOK_TOKEN": "t"}
        ),
        clock=clock,
    )
    yield app
    app.extensions["integration"].dispose()


def test_dry_run_records_what_would_be_written_and_writes_nothing(dry_run_app) -> None:  # type: ignore[no-untyped-def]
    container = dry_run_app.extensions["integration"]
    assert container.desk is None
    client = dry_run_app.test_client()
    client.post("/webhooks/zoho-desk?token=t", json=[event("Ticket_Add", SPAM_TICKET, "1")])
    Worker(container).run_until_idle()
    with container.sessions() as session:
        outbox = session.get(OutboxWrite, SPAM_TICKET["id"])
        assert outbox is not None and outbox.dry_run and outbox.status == "done"
        assert outbox.writes == 0
        sent = json.loads(outbox.last_sent)
        assert sent["priority"] == "High"
        assert sent["cf"]["cf_sla_response_due"] == "2026-11-30T14:30:00.000Z"
        audit = session.scalars(
            select(AuditEntry.reason).where(AuditEntry.decision == "write-back")
        ).all()
        assert len(audit) == 1 and audit[0].startswith("dry-run: would write")

    # The same values again: nothing more would be written.
    later = {**SPAM_TICKET, "modifiedTime": "2026-11-28T00:40:00.000Z", "status": "Escalated"}
    client.post("/webhooks/zoho-desk?token=t", json=[event("Ticket_Update", later, "1")])
    Worker(container).run_until_idle()
    with container.sessions() as session:
        writes = session.scalars(
            select(AuditEntry).where(AuditEntry.decision == "write-back")
        ).all()
        assert len(writes) == 1


def test_zoho_down_while_applying_keeps_the_event_until_it_succeeds(service: Service) -> None:
    ticket = service.desk.create_ticket(
        subject="Ataque masivo de SPAM", createdTime="2026-11-28T00:30:00.000Z"
    )
    service.desk.inject(Fault(status=503, times=2, method="GET", path_prefix="/api/v1/tickets/"))
    service.deliver(event("Ticket_Add", ticket, service.desk.org_id))
    worker = Worker(service.container)
    worker.run_once()  # get_ticket: 503, retried once by the client, 503 again
    with service.container.sessions() as session:
        row = session.scalars(select(InboxEvent)).one()
        assert row.status == "pending" and row.attempts == 1
        assert "503" in row.last_error
    service.clock.advance(seconds=1)  # past the backoff (WORKER_BACKOFF_S=0.01)
    worker.run_until_idle()
    with service.container.sessions() as session:
        assert session.scalars(select(InboxEvent.status)).one() == "done"
    assert len(service.desk.writes("PATCH")) == 1


REFUSED_STATUS = {
    "errorCode": "INVALID_DATA",
    "message": "bad field",
    "errors": [
        {
            "fieldName": "/cf_sla_status",
            "errorType": "invalid",
            "errorMessage": "not an allowed value",
        }
    ],
}


def test_a_refused_field_is_dropped_the_rest_written_and_the_refusal_visible(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    service.desk.inject(Fault(status=422, times=1, method="PATCH", body=REFUSED_STATUS))
    ticket = service.add(subject="Ataque masivo de SPAM", createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    shown = service.desk.get_ticket(ticket["id"])
    assert shown["priority"] == "High"  # the rest of the write landed
    assert shown["cf"]["cf_sla_response_due"] == "2026-11-30T14:30:00.000Z"
    assert shown["cf"]["cf_sla_status"] is None
    with service.container.sessions() as session:
        outbox = session.get(OutboxWrite, ticket["id"])
        assert outbox is not None and outbox.status == "done"
        assert json.loads(outbox.refused)["cf_sla_status"] == {
            "value": "On track",
            "reason": "not an allowed value",
        }

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
    assert main(["ticket", "show", ticket["id"]], clock=service.clock) == 0
    assert 'refused by Zoho: cf_sla_status = "On track": not an allowed value' in (
        capsys.readouterr().out
    )
    # The admin adds the value to the picklist, then asks for the write again.
    assert main(["inbox", "retry"], clock=service.clock) == 0
    assert "requeued 0 event(s) and 1 write-back(s)" in capsys.readouterr().out
    service.work()
    assert service.desk.get_ticket(ticket["id"])["cf"]["cf_sla_status"] == "On track"


def test_a_refused_write_naming_no_field_is_failed_visibly_and_can_be_retried(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    body = {"errorCode": "FORBIDDEN", "message": "You do not have permission"}
    service.desk.inject(Fault(status=403, times=1, method="PATCH", body=body))
    ticket = service.add(subject="Ataque masivo de SPAM", createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    with service.container.sessions() as session:
        outbox = session.get(OutboxWrite, ticket["id"])
        assert outbox is not None and outbox.status == "failed"
        assert "403 FORBIDDEN: You do not have permission" in outbox.last_error

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", service.container.settings.database_url)
    assert main(["inbox", "status"], clock=service.clock) == 0
    assert f"failed write for ticket {ticket['id']}" in capsys.readouterr().out
    assert main(["inbox", "retry"], clock=service.clock) == 0
    assert "requeued 0 event(s) and 1 write-back(s)" in capsys.readouterr().out
    service.work()
    with service.container.sessions() as session:
        assert session.get(OutboxWrite, ticket["id"]).status == "done"  # type: ignore[union-attr]
    assert service.desk.get_ticket(ticket["id"])["priority"] == "High"


def test_replay_feeds_a_saved_delivery_through_the_pipeline(
    database_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    delivery = tmp_path / "delivery.json"
    delivery.write_text(json.dumps([event("Ticket_Add", SPAM_TICKET, "1")]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["inbox", "replay", str(delivery)], clock=clock) == 0
    assert main(["inbox", "replay", str(delivery)], clock=clock) == 0
    out = capsys.readouterr().out
    assert "stored 1 new event(s), 0 already known" in out
    assert "stored 0 new event(s), 1 already known" in out
    app = create_app(settings_from_mapping({"DATABASE_URL": database_url}), clock=clock)
    with app.extensions["integration"].sessions() as session:
        tracked = session.get(TrackedTicket, SPAM_TICKET["id"])
        assert tracked is not None and tracked.priority == "High"
        assert tracked.sla_status == "On track"  # Friday 18:30; first response due Monday 08:30
    app.extensions["integration"].dispose()

    assert main(["ticket", "show", SPAM_TICKET["id"]], clock=clock) == 0
    shown = capsys.readouterr().out
    assert "rule: high-spam-attack" in shown
    assert "response_due: lun 30 nov 2026 08:30" in shown
    assert "dry-run: would write" in shown
    assert main(["ticket", "show", "nope"], clock=clock) == 2
    assert capsys.readouterr().err.strip() == "error: ticket nope is not tracked"


def test_replay_of_a_bad_file_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("[{}]")
    assert main(["inbox", "replay", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}: events[0]: missing eventType"


@pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_the_worker_rides_out_a_database_outage(database_url: str) -> None:
    import threading
    import time

    from sqlalchemy.engine import make_url

    from integration import db
    from integration.pipeline.inbox import parse_delivery, store
    from tests.tcp_proxy import TcpProxy

    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(
        settings_from_mapping(
            {"DATABASE_URL": proxied, "DB_CONNECT_TIMEOUT_S": "1", "WORKER_POLL_S": "0.05"}
        )
    )
    container = app.extensions["integration"]
    stop = threading.Event()
    worker = threading.Thread(target=Worker(container).run, args=(stop,))
    try:
        proxy.cut()
        worker.start()
        time.sleep(0.5)  # rounds fail while the database is away
        engine = db.make_engine(database_url)
        with db.transaction(db.make_session_factory(engine)) as session:
            raw = json.dumps([event("Ticket_Add", SPAM_TICKET, "1")]).encode()
            store(session, parse_delivery(raw), source="test", now=container.clock())
        proxy.restore()
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline and status != "done":
            with db.make_session_factory(engine)() as session:
                status = session.scalar(select(InboxEvent.status)) or ""
            time.sleep(0.1)
        engine.dispose()
        assert status == "done"
        assert worker.is_alive()
    finally:
        stop.set()
        container.wake_worker()
        worker.join(timeout=30)
        container.dispose()
        proxy.close()


def test_spent_credits_hold_writes_until_the_reset_without_failing_them(service: Service) -> None:
    service.desk.inject(
        Fault(
            status=429,
            times=1,
            method="PATCH",
            headers={"Retry-After": "600"},
            body={"errorCode": "THRESHOLD_EXCEEDED", "message": "credits spent"},
        )
    )
    ticket = service.add(subject="Ataque masivo de SPAM", createdTime="2026-11-28T00:30:00.000Z")
    service.work()
    with service.container.sessions() as session:
        outbox = session.get(OutboxWrite, ticket["id"])
        assert outbox is not None and outbox.status == "pending" and outbox.attempts == 0
        assert (outbox.available_at - service.clock()).total_seconds() == 600
    service.clock.advance(seconds=601)
    service.work()
    assert service.desk.get_ticket(ticket["id"])["priority"] == "High"
