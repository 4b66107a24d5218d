"""`/metrics`: one scrape shows every series ops watches; deliveries and Zoho calls are counted
where they happen; the database's gauges are read at scrape time, so any process tells the truth;
under PROMETHEUS_MULTIPROC_DIR the counters of every process add up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from integration import db
from integration.app import create_app
from integration.clock.scheduler import ClockProcess
from integration.config import settings_from_mapping
from integration.models import InboxEvent, OutboxWrite
from integration.pipeline.worker import Worker
from integration.zoho.fake_server import event as zoho_event
from tests.pipeline.conftest import WEBHOOK_ID, Clock, Service, running_service

EVERY_SERIES = {
    "sla_webhook_deliveries",
    "sla_inbox_events",
    "sla_inbox_backlog_events",
    "sla_inbox_oldest_pending_age_seconds",
    "sla_worker_lag_seconds",
    "sla_outbox_writes",
    "sla_outbox_refused_fields",
    "sla_outbox_refused_writes",
    "sla_zoho_calls",
    "sla_zoho_credits_remaining",
    "sla_zoho_token_refreshes",
    "sla_zoho_reauth_required",
    "sla_tickets",
    "sla_notices_fired",
    "sla_process_heartbeat_age_seconds",
    "sla_clock_job_last_success_timestamp_seconds",
    "sla_database_up",
}
NO_CACHE = {"METRICS_CACHE_S": "0"}


def scrape(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    """Every sample of one scrape, by (name, sorted labels)."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def families(app) -> set[str]:  # type: ignore[no-untyped-def]
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {family.name for family in text_string_to_metric_families(text)}


def post_raw(service: Service, body: bytes, *, signed: bool = True) -> int:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-ZDesk-JWT"] = service.zoho.signer.sign(service.desk.org_id, WEBHOOK_ID)
    return requests.post(service.webhook_url, data=body, headers=headers, timeout=10).status_code


def test_a_scrape_finds_every_series(database_url: str, clock: Clock) -> None:
    with running_service(database_url, clock, NO_CACHE) as service:
        service.desk.set_picklist("priority", ["Low"])  # our priority is refused: a refused field
        ticket = service.add(subject="La impresora no imprime")
        service.work()
        clock.advance(days=10)
        process = ClockProcess(service.container)
        process.heartbeat()
        process.sweep()
        service.work()

        app = service.web.app
        assert families(app) >= EVERY_SERIES
        seen = scrape(app)
    org = service.desk.org_id
    assert seen[("sla_webhook_deliveries_total", (("result", "accepted"),))] == 1
    fetch = (("endpoint", "/tickets/{id}"), ("method", "GET"), ("status", "200"))
    assert seen[("sla_zoho_calls_total", fetch)] >= 1
    assert seen[("sla_zoho_credits_remaining", (("org_id", org),))] > 0
    assert seen[("sla_zoho_token_refreshes_total", ())] == 2  # the first, and one 10 days on
    assert seen[("sla_outbox_refused_fields", (("field", "priority"),))] == 1
    assert seen[("sla_tickets", (("sla_status", "Breached"),))] == 1
    assert seen[("sla_notices_fired_total", (("kind", "breached"),))] >= 1
    assert seen[("sla_process_heartbeat_age_seconds", (("process", "worker"),))] == 0
    assert seen[("sla_clock_job_last_success_timestamp_seconds", (("job", "sweep"),))] == (
        clock().timestamp()
    )
    assert ticket["id"]


def test_each_delivery_is_counted_by_its_result(database_url: str, clock: Clock) -> None:
    settings = {"WEBHOOK_MAX_BODY_BYTES": "8192", **NO_CACHE}
    with running_service(database_url, clock, settings) as service:
        ticket = service.add(subject="Alta de usuario")
        again = zoho_event("Ticket_Add", service.desk.get_ticket(ticket["id"]), service.desk.org_id)
        assert service.deliver(again).status_code == 200
        assert post_raw(service, b"[]", signed=False) == 401
        assert post_raw(service, b"not json") == 400
        assert post_raw(service, b"[" + b" " * 9000 + b"]") == 413
        seen = scrape(service.web.app)
    counted = {
        dict(labels)["result"]: value
        for (name, labels), value in seen.items()
        if name == "sla_webhook_deliveries_total"
    }
    assert counted == {
        "accepted": 1, "duplicate": 1, "401": 1, "400": 1, "413": 1, "422": 0, "503": 0,
    }  # fmt: skip


def test_a_delivery_the_database_cannot_store_counts_as_503() -> None:
    app = create_app(
        settings_from_mapping(
            {
                "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
                "DB_CONNECT_TIMEOUT_S": "1",
                "WEBHOOK_AUTH": "token",
                "WEBHOOK_TOKEN": "t0ken",
            }
        )
    )
    client = app.test_client()
    body = [{"eventType": "Ticket_Delete", "payload": {"id": "1"}}]
    assert client.post("/webhooks/zoho-desk?token=t0ken", json=body).status_code == 503
    seen = scrape(app)
    assert seen[("sla_webhook_deliveries_total", (("result", "503"),))] == 1
    assert seen[("sla_database_up", ())] == 0
    app.extensions["integration"].dispose()


def test_the_database_gauges_are_the_same_from_another_process(
    database_url: str, clock: Clock
) -> None:
    with running_service(database_url, clock, NO_CACHE) as service:
        service.add(subject="Alta de usuario")
        service.add(subject="Cambio de contraseña")
        clock.advance(minutes=5)
        other = create_app(service.container.settings, clock=clock)  # e.g. another gunicorn worker
        try:
            seen = scrape(other)
        finally:
            other.extensions["integration"].dispose()
    assert seen[("sla_inbox_backlog_events", ())] == 2
    assert seen[("sla_inbox_oldest_pending_age_seconds", ())] == 300
    assert seen[("sla_worker_lag_seconds", ())] == 300
    assert seen[("sla_webhook_deliveries_total", (("result", "accepted"),))] == 0  # in-process


def test_a_failed_write_is_counted_at_the_next_scrape(database_url: str, clock: Clock) -> None:
    app = create_app(settings_from_mapping({"DATABASE_URL": database_url, **NO_CACHE}), clock=clock)
    try:
        assert scrape(app)[("sla_outbox_writes", (("status", "failed"),))] == 0
        with db.transaction(app.extensions["integration"].sessions) as session:
            session.add(OutboxWrite(ticket_id="7", status="failed", available_at=clock(),
                                    updated_at=clock()))  # fmt: skip
        assert scrape(app)[("sla_outbox_writes", (("status", "failed"),))] == 1
    finally:
        app.extensions["integration"].dispose()


def test_database_figures_are_reused_within_the_cache_time(database_url: str, clock: Clock) -> None:
    app = create_app(
        settings_from_mapping({"DATABASE_URL": database_url, "METRICS_CACHE_S": "3600"}),
        clock=clock,
    )
    try:
        assert scrape(app)[("sla_inbox_backlog_events", ())] == 0
        with db.transaction(app.extensions["integration"].sessions) as session:
            session.add(InboxEvent(dedupe_key="k", received_at=clock(), event_type="Ticket_Add",
                                   body="{}", available_at=clock()))  # fmt: skip
        assert scrape(app)[("sla_inbox_backlog_events", ())] == 0
    finally:
        app.extensions["integration"].dispose()


def test_applied_events_log_ticket_event_and_decision(service: Service, caplog) -> None:  # type: ignore[no-untyped-def]
    ticket = service.add(subject="La impresora no imprime")
    with caplog.at_level("INFO", logger="integration.pipeline.apply"):
        Worker(service.container).run_until_idle()
    [record] = [r for r in caplog.records if r.getMessage().startswith("applied ")]
    assert record.levelname == "INFO"
    assert record.ticket_id == ticket["id"]  # type: ignore[attr-defined]
    assert record.event == "Ticket_Add"  # type: ignore[attr-defined]
    assert record.decision  # type: ignore[attr-defined]
    assert "impresora" not in record.getMessage()  # no message body


@pytest.mark.heavy
def test_counters_of_every_process_add_up_under_prometheus_multiproc_dir(
    database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "DATABASE_URL": database_url,
    }
    count = textwrap.dedent(
        """
        from integration.container import build_container
        container = build_container()
        container.metrics.delivery(200, new=1, events=1)
        container.dispose()
        """
    )
    show = textwrap.dedent(
        """
        from integration.app import create_app
        app = create_app()
        print(app.test_client().get("/metrics").get_data(as_text=True))
        """
    )
    for _ in range(2):  # two processes count one delivery each
        subprocess.run([sys.executable, "-c", count], env=env, cwd=tmp_path, check=True, timeout=60)
    shown = subprocess.run(
        [sys.executable, "-c", show], env=env, cwd=tmp_path, check=True, timeout=60,
        capture_output=True, text=True,
    )  # fmt: skip
    seen = samples(shown.stdout)
    assert seen[("sla_webhook_deliveries_total", (("result", "accepted"),))] == 2
    assert ("sla_inbox_backlog_events", ()) in seen  # the database's gauges beside them
