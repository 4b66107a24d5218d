"""LOG_FORMAT=json: one JSON object per line, with the request id of the request being served;
no token and no message body in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from integration.app import create_app
from integration.config import settings_from_mapping
from integration.logs import JsonFormatter, RequestIdFilter


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer, as `configure_logging` sets it up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_message_and_the_call_extras(json_lines: io.StringIO) -> None:
    logging.getLogger("integration.test").info(
        "applied %s", "Ticket_Add", extra={"ticket_id": "42", "event": "Ticket_Add"}
    )
    [line] = parsed(json_lines)
    assert line["level"] == "info"
    assert line["message"] == "applied Ticket_Add"
    assert line["ticket_id"] == "42" and line["event"] == "Ticket_Add"
    assert str(line["time"]).endswith("+00:00")
    assert "request_id" not in line  # not inside a request


def test_a_request_logs_its_request_id_and_never_the_token_or_body(
    json_lines: io.StringIO, database_url: str
) -> None:
    app = create_app(
        settings_from_mapping(
            {"DATABASE_URL": database_url, "WEBHOOK_AUTH": "token", "WEBHOOK_TOKEN": "sup3r"}
        )
    )
    body = [{"eventType": "Ticket_Add", "payload": {"id": "1", "subject": "PRIVATE-SUBJECT"}}]
    response = app.test_client().post(
        "/webhooks/zoho-desk?token=wrong-guess", json=body, headers={"X-Request-ID": "req-7"}
    )
    app.extensions["integration"].dispose()
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-7"
    lines = parsed(json_lines)
    assert [line["request_id"] for line in lines if "webhook refused" in str(line["message"])] == [
        "req-7"
    ]
    text = json_lines.getvalue()
    assert "sup3r" not in text and "wrong-guess" not in text and "PRIVATE-SUBJECT" not in text


def test_a_request_id_that_is_not_a_plain_token_is_replaced(database_url: str) -> None:
    app = create_app(settings_from_mapping({"DATABASE_URL": database_url}))
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "a b;<script>"})
    app.extensions["integration"].dispose()
    given = response.headers["X-Request-ID"]
    assert len(given) == 32 and given.isalnum()
