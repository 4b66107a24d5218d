"""The monthly compliance report sent by the clock: on the 1st from REPORT_HOUR (08:00 Mexico
City by default) the previous month's HTML goes to REPORT_DIR and its summary to the chat
webhook, once per month, across restarts, and a failed delivery is tried again.

Policy: the shipped Ignus policy; "Ataque masivo de SPAM" is High, created Monday 30 Nov 2026
10:00 Mexico City and answered at 10:30 (first response met).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.clock.scheduler import ClockProcess
from integration.report.monthly import monthly_report_once
from tests.clock.test_chat import ChatServer
from tests.pipeline.conftest import Clock, Service, mx, running_service


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


def seed_november(service: Service) -> None:
    service.clock.set(mx("2026-11-30 10:00"))
    ticket = service.add(subject="Ataque masivo de SPAM", createdTime="2026-11-30T16:00:00.000Z")
    service.work()
    service.clock.set(mx("2026-11-30 10:30"))
    service.agent_reply(ticket["id"])
    service.work()


def test_the_previous_month_goes_out_once_on_the_first_even_across_restarts(
    database_url: str, chat: ChatServer, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    settings = {"REPORT_DIR": str(folder), "REPORT_CHAT_WEBHOOK_URL": chat.url}
    clock = Clock(mx("2026-11-30 10:00"))
    with running_service(database_url, clock, settings) as service:
        seed_november(service)
        # A first start delivers the latest finished month: on 30 Nov, October's.
        october = monthly_report_once(service.container)
        assert october.written == folder / "sla-report-2026-10.html" and october.posted
        chat.received.clear()

        clock.set(mx("2026-12-01 07:59"))  # before REPORT_HOUR
        assert monthly_report_once(service.container).period is None
        clock.set(mx("2026-12-01 08:00"))
        result = monthly_report_once(service.container)
        november = folder / "sla-report-2026-11.html"
        assert result.written == november and result.posted
        html = november.read_text(encoding="utf-8")
        assert "Informe de cumplimiento de SLA" in html and 'id="chart-weekly"' in html
        [message] = chat.received
        assert message["text"].startswith(
            "[SLA] Informe de cumplimiento de SLA 2026-11-01 – 2026-11-30: 1 tickets; "
            "1.ª respuesta cumplida %: 100.0;"
        )
        assert str(november) in message["text"]
        clock.set(mx("2026-12-01 08:10"))
        again = monthly_report_once(service.container)
        assert (again.written, again.posted) == (None, False)

    november.unlink()  # a restart (a new process, the same database) sends nothing again
    clock.set(mx("2026-12-01 09:00"))
    with running_service(database_url, clock, settings) as service:
        assert monthly_report_once(service.container).written is None
        assert not november.exists() and len(chat.received) == 1
        clock.set(mx("2027-01-01 08:00"))  # the next month's
        assert monthly_report_once(service.container).written == folder / "sla-report-2026-12.html"
    assert len(chat.received) == 2


def test_a_failed_chat_post_is_tried_again_without_writing_the_file_twice(
    database_url: str, chat: ChatServer, tmp_path: Path
) -> None:
    settings = {"REPORT_DIR": str(tmp_path), "REPORT_CHAT_WEBHOOK_URL": chat.url}
    clock = Clock(mx("2026-12-01 08:00"))
    with running_service(database_url, clock, settings) as service:
        chat.fail_next = 1
        first = monthly_report_once(service.container)
        assert first.written is not None and not first.posted and chat.received == []
        clock.set(mx("2026-12-01 08:10"))
        second = monthly_report_once(service.container)
        assert (second.written, second.posted) == (None, True)
        assert len(chat.received) == 1


def test_the_job_is_scheduled_only_when_a_delivery_is_set(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock(mx("2026-12-01 08:00"))
    with running_service(database_url, clock) as service:
        assert "report" not in {
            j.id for j in ClockProcess(service.container).scheduler().get_jobs()
        }
        assert monthly_report_once(service.container).period is None  # off: nothing done
    with running_service(database_url, clock, {"REPORT_DIR": str(tmp_path)}) as service:
        assert "report" in {j.id for j in ClockProcess(service.container).scheduler().get_jobs()}
