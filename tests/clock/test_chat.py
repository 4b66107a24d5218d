"""Chat notifications of warnings and breaches: a Slack-compatible incoming webhook that gets
`{"text": ...}`; a failed post is retried and never holds back (or repeats) the Zoho side.

Policy: the shipped Ignus policy; "Ataque masivo de SPAM" is High (warning at 45 minutes),
created Monday 30 Nov 2026 10:00 Mexico City.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integration.clock.sweep import sweep_once
from tests.pipeline.conftest import Clock, mx, running_service


class ChatServer:
    def __init__(self) -> None:
        self.received: list[dict] = []  # type: ignore[type-arg]
        self.fail_next = 0
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if chat.fail_next:
                    chat.fail_next -= 1
                    self.send_response(500)
                else:
                    chat.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


def test_a_warning_reaches_the_chat_once_even_when_the_first_post_fails(
    database_url: str, chat: ChatServer
) -> None:
    clock = Clock(mx("2026-11-30 10:00"))
    with running_service(database_url, clock, {"CHAT_WEBHOOK_URL": chat.url}) as service:
        ticket = service.add(
            subject="Ataque masivo de SPAM", createdTime="2026-11-30T16:00:00.000Z"
        )
        service.work()
        chat.fail_next = 1
        clock.set(mx("2026-11-30 10:45"))
        sweep_once(service.container)
        service.work()
        assert chat.received == []
        assert service.desk.tags[ticket["id"]] == ["sla-en-riesgo"]  # Zoho was not held back
        clock.advance(minutes=1)
        service.work()
        clock.advance(minutes=1)
        service.work()
    [message] = chat.received
    assert message["text"].startswith("[SLA] En riesgo: la primera respuesta vence")
    warnings = [c for c in service.desk.comments[ticket["id"]] if "En riesgo" in c["content"]]
    assert len(warnings) == 1
