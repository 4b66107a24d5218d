"""The clock process: one active clock, a takeover when it dies, every warning once.

Policy: the shipped Ignus policy; "Ataque masivo de SPAM" is High (first response 1 h, warning
at 45 minutes), created Monday 30 Nov 2026 10:00 Mexico City.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from integration.app import create_app
from integration.clock.scheduler import ClockProcess, Leadership
from integration.clock.sweep import sweep_once
from integration.models import Notice, ProcessHeartbeat
from tests.conftest import on_postgres
from tests.pipeline.conftest import Service, mx, service_settings

SPAM = "Ataque masivo de SPAM"
MONDAY_10 = "2026-11-30T16:00:00.000Z"


def second_container(service: Service):  # type: ignore[no-untyped-def]
    """Another process's container: its own engine and connections, the same clock."""
    settings = service_settings(
        service.container.settings.database_url, service.zoho.url, service.desk
    )
    return create_app(settings, clock=service.clock).extensions["integration"]


@pytest.mark.skipif(not on_postgres(), reason="the advisory lock is PostgreSQL's")
def test_one_clock_is_active_and_another_takes_over_when_it_dies(service: Service) -> None:
    other = second_container(service)
    first, second = Leadership(service.container), Leadership(other)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()  # waits its turn
        assert first.alive()
        first.connection.invalidate()  # type: ignore[union-attr]  # the process dies: its session ends
        first.connection = None
        deadline = time.monotonic() + 10
        while not second.try_acquire():
            assert time.monotonic() < deadline, "the second clock never took over"
            time.sleep(0.05)
        assert second.alive()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_two_clocks_sweeping_at_once_fire_every_warning_once(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    tickets = [service.add(subject=SPAM, createdTime=MONDAY_10) for _ in range(10)]
    service.work()
    other = second_container(service)
    service.clock.set(mx("2026-11-30 10:46"))
    barrier = threading.Barrier(2)

    def sweep(container) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        sweep_once(container)

    threads = [threading.Thread(target=sweep, args=(c,)) for c in (service.container, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.dispose()
    service.work()
    with service.container.sessions() as session:
        count = session.scalar(select(func.count()).select_from(Notice))
    assert count == 10
    for ticket in tickets:
        assert service.desk.tags[ticket["id"]] == ["sla-en-riesgo"]
        warnings = [c for c in service.desk.comments[ticket["id"]] if "En riesgo" in c["content"]]
        assert len(warnings) == 1


def test_the_clock_process_beats_and_stops_on_request(service: Service) -> None:
    clock = ClockProcess(service.container)
    stop = threading.Event()
    thread = threading.Thread(target=clock.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        beat = None
        while beat is None and time.monotonic() < deadline:
            with service.container.sessions() as session:
                beat = session.get(ProcessHeartbeat, "clock")
            time.sleep(0.05)
        assert beat is not None and beat.detail == clock.owner
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    ready = service.web.app.test_client().get("/readyz").get_json()
    [check] = [c for c in ready["checks"] if c["name"] == "clock"]
    assert check["detail"].startswith("last beat 0 s ago by clock-")
