"""PostgreSQL going away mid-run (as a restart looks from the service: open connections dropped,
new ones refused), then coming back: 503 with Retry-After during the outage, nothing accepted
lost, and everything flows again without restarting the service.

The machine's PostgreSQL is shared, so it is not restarted: `tests/tcp_proxy.py` stands between
the service and it and is cut, then restored. The web app is served on a port, a worker thread
runs the real loop (`Worker.run`) on the same container, and the fake Zoho delivers signed
webhooks (one event each) before, during and after the outage; what was refused with 503 is
delivered again afterwards (Zoho may, and the answer asks it to). The same app and worker objects
carry on throughout. Needs a PostgreSQL `TEST_DATABASE_URL` (skipped on SQLite, a file: there is
no connection to cut).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from integration import db
from integration.app import create_app
from integration.models import InboxEvent
from integration.pipeline.worker import Worker
from integration.zoho.fake_server import FakeZohoServer
from tests.conftest import on_postgres
from tests.pipeline.conftest import WEBHOOK_ID, Clock, ServedApp, service_settings
from tests.reliability.scenario import NOW, portal, size, wait_for
from tests.tcp_proxy import TcpProxy

EVENTS = size(15, 300)  # a third before, a third during, a third after the outage

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL): a connection to cut"
)


def statuses(url: str) -> Counter[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return Counter(
                dict(
                    connection.execute(
                        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
                    ).all()  # type: ignore[arg-type]
                )
            )
    finally:
        engine.dispose()


def test_a_database_outage_is_503_then_everything_flows_again_without_a_restart(
    database_url: str,
) -> None:
    desk, events = portal(EVENTS)
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    clock = Clock(NOW)
    answers: Counter[str] = Counter()
    with FakeZohoServer(desk) as zoho:
        settings = service_settings(
            proxied, zoho.url, desk, DB_CONNECT_TIMEOUT_S="1", WORKER_POLL_S="0.05",
            WORKER_LEASE_S="5",
        )  # fmt: skip
        app = create_app(settings, clock=clock)
        container = app.extensions["integration"]
        web = ServedApp(app)
        stop = threading.Event()
        worker = threading.Thread(target=Worker(container).run, args=(stop,), daemon=True)
        worker.start()
        hook = f"{web.url}/webhooks/zoho-desk"

        def deliver(item: dict[str, Any]) -> requests.Response:
            response = zoho.deliver(hook, [item], webhook_id=WEBHOOK_ID, timeout=30)
            answers[str(response.status_code)] += 1
            return response

        try:
            third = EVENTS // 3
            for item in events[:third]:
                assert deliver(item).status_code == 200

            proxy.cut()
            refused = []
            for item in events[third : 2 * third]:
                response = deliver(item)
                assert response.status_code == 503, response.text
                assert response.headers.get("Retry-After")
                assert response.json()["error"] == "database_unavailable"
                refused.append(item)

            proxy.restore()
            for item in [*refused, *events[2 * third :]]:  # Zoho delivers the refused again
                assert deliver(item).status_code == 200
            # Rows a worker round held when the connection dropped return when their lease
            # expires: on the service's clock, moved past it. Time then goes on (a few seconds
            # a poll): an event that waits for its ticket's Ticket_Add, still locked by the
            # server's side of a dropped connection, goes after its backoff.
            clock.advance(seconds=600)

            def drained() -> bool:
                clock.advance(seconds=5)
                container.wake_worker()
                return statuses(database_url)["done"] == EVENTS

            wait_for(drained, 120, "the inbox to drain")
            assert worker.is_alive()  # the same worker carried on
            assert requests.get(f"{web.url}/healthz", timeout=30).status_code == 200
        finally:
            stop.set()
            container.wake_worker()
            worker.join(timeout=30)
            web.stop()
            container.dispose()
            proxy.close()
    print(f"\ndatabase outage: events={EVENTS} answers={dict(answers)}")
    assert statuses(database_url) == Counter({"done": EVENTS})
    assert answers["200"] == EVENTS and answers["503"] == EVENTS // 3
    assert set(answers) == {"200", "503"}
