"""Hostile input at POST /webhooks/zoho-desk (issue 15; issue 10 items 7-8).

One boundary turns any request into 200, 400, 401, 413, 422, or 503 only when the database is
down: never a 500, never a 410. Each reproducer of the fault-injection run is a test here; a
property-based fuzz test then throws generated bodies, JWT headers and query strings at it, and a
second one runs the worker over whatever ingest accepted.

Run with `-s` to see the fuzz figures (requests generated, statuses answered); set
`HOSTILE_FUZZ_REPORT=path.json` to have them written, `HOSTILE_FUZZ_EXAMPLES=N` (requests) and
`HOSTILE_WORKER_EXAMPLES=N` (deliveries through the worker) for more examples, and
`HOSTILE_FUZZ_RANDOM=1` for new ones rather than the fixed set.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from integration.app import create_app
from integration.cli import main
from integration.config import settings_from_mapping
from integration.models import InboxEvent
from integration.pipeline import receive
from integration.pipeline.inbox import DeliveryError, parse_delivery
from integration.pipeline.observe import parse_zoho_time
from integration.pipeline.worker import Worker
from tests.conftest import on_postgres

URL = "/webhooks/zoho-desk"
TOKEN = "s3cret"
ORG, WEBHOOK = "1", "5001"
TICKET = {
    "id": "4321",
    "subject": "Ataque masivo de SPAM",
    "status": "Open",
    "statusType": "Open",
    "priority": "Medium",
    "createdTime": "2026-11-28T00:30:00.000Z",
    "modifiedTime": "2026-11-28T00:30:00.000Z",
    "cf": {},
}
THREAD = {
    "id": "77",
    "ticketId": "4321",
    "direction": "out",
    "visibility": "public",
    "status": "SUCCESS",
    "author": {"type": "AGENT"},
    "createdTime": "2026-11-28T01:00:00.000Z",
}
STORED_STATUSES = {"pending", "ignored", "quarantined"}


def zoho_event(event_type: str, payload: Any, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": "1795536000000",
        "orgId": ORG,
        "payload": payload,
        **extra,
    }


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def token_app(database_url: str, **extra: str) -> Flask:
    values = {"DATABASE_URL": database_url, "WEBHOOK_AUTH": "token", "WEBHOOK_TOKEN": TOKEN}
    return create_app(settings_from_mapping({**values, **extra}))


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = token_app(database_url)
    yield application
    application.extensions["integration"].dispose()


def post(app: Flask, body: object, *, query: str = f"token={TOKEN}", headers=None):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return app.test_client().post(
        URL,
        data=data,
        query_string=query,
        headers=headers or {},
        content_type="application/json",
    )


def rows(app: Flask) -> list[InboxEvent]:
    with app.extensions["integration"].sessions() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def count(app: Flask) -> int:
    with app.extensions["integration"].sessions() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent)) or 0


# ---- a JWKS endpoint whose answer a test controls ---------------------------------------------


class JwksServer:
    """Serves `/.well-known/jwks.json` with whatever `body`/`status` say; signs tokens with its
    own RSA key like Zoho."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "zoho-key-1"
        self.status = 200
        self.body = json.dumps(self.good_jwks()).encode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def good_jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": f"orgId:{ORG}", "aud": f"webhookId:{WEBHOOK}", "iat": now}
        payload["exp"] = now + 300
        payload.update(claims)
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def jwt_app(database_url: str, jwks: JwksServer, mode: str = "jwt", **extra: str) -> Flask:
    values = {
        "DATABASE_URL": database_url,
        "WEBHOOK_AUTH": mode,
        "WEBHOOK_TOKEN": TOKEN,
        "ZOHO_ORG_ID": ORG,
        "ZOHO_WEBHOOK_ID": WEBHOOK,
        "ZOHO_DESK_BASE_URL": jwks.url,
    }
    return create_app(settings_from_mapping({**values, **extra}))


def b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(header: object, claims: object = None) -> str:
    return f"{b64(header)}.{b64(claims or {'iss': 'orgId:1'})}.{b64(b'signature')}"


def assert_refused_401(app: Flask, response, token: str | None = None) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.get_data()
    body = response.get_json()
    assert body["error"] == "unauthorized"
    if token:
        assert token not in body["detail"]
    assert count(app) == 0
    return str(body["detail"])


# ---- JWT and JWKS: every failure is a 401 ------------------------------------------------------


def test_a_signed_delivery_passes_with_this_jwks_server(
    database_url: str, jwks: JwksServer
) -> None:
    app = jwt_app(database_url, jwks)
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": jwks.sign()})
    assert response.status_code == 200, response.get_data()
    app.extensions["integration"].dispose()


@pytest.mark.parametrize("kid", [123, [1], {"a": 1}, 1.5, True])
def test_a_jwt_whose_kid_is_not_text_is_401(database_url: str, jwks: JwksServer, kid) -> None:  # type: ignore[no-untyped-def]
    # Was a 500: jwt.get_unverified_header raises InvalidTokenError, which was not caught.
    app = jwt_app(database_url, jwks)
    token = forged({"alg": "RS256", "kid": kid})
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert "JWT" in assert_refused_401(app, response, token)
    app.extensions["integration"].dispose()


@pytest.mark.parametrize(
    ("document", "status"),
    [
        (b'{"keys": []}', 200),  # was a 500: PyJWKSetError
        (b'{"keys": 5}', 200),  # was a 500: PyJWKSetError
        (b'{"keys": [{"kty": "nope"}]}', 200),  # was a 500: PyJWKSetError (no usable key)
        (b"<html>not json</html>", 200),  # was a 500: a JSONDecodeError from PyJWKClient
        (b"[]", 200),
        (b'{"keys": [{"kty": "RSA"}]}', 200),
        (b"{}", 503),
    ],
)
def test_a_broken_jwks_is_401(
    database_url: str, jwks: JwksServer, document: bytes, status: int
) -> None:
    jwks.body, jwks.status = document, status
    app = jwt_app(database_url, jwks)
    token = jwks.sign()
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert "JWKS" in assert_refused_401(app, response, token)
    app.extensions["integration"].dispose()


def test_a_jwks_endpoint_that_is_down_is_401(database_url: str, jwks: JwksServer) -> None:
    app = jwt_app(database_url, jwks)
    token = jwks.sign()
    jwks.close()
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert "could not fetch" in assert_refused_401(app, response, token)
    app.extensions["integration"].dispose()


@pytest.mark.parametrize("exp", [10**400, "nan", "inf", "1e999", "\u00b2", [1]])
def test_a_signed_jwt_with_an_absurd_exp_is_401(database_url: str, jwks: JwksServer, exp) -> None:  # type: ignore[no-untyped-def]
    # 10**400 was a 500 (float overflow); "nan" was accepted (NaN compares false: never expired).
    app = jwt_app(database_url, jwks)
    token = jwks.sign(exp=exp)
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert "JWT" in assert_refused_401(app, response, token)
    app.extensions["integration"].dispose()


@pytest.mark.parametrize("query", ["token=%ED%A0%80", "token=%00", "token=%ff%fe", "token="])
def test_odd_tokens_in_the_query_are_401(app: Flask, query: str) -> None:
    response = post(app, [zoho_event("Ticket_Add", TICKET)], query=query)
    assert_refused_401(app, response)


# ---- numbers and times that used to crash the receiver ----------------------------------------


def test_an_event_time_too_big_for_a_float_is_stored_without_a_time(app: Flask) -> None:
    # Was a 500: float() overflow in the time parser.
    raw = (
        b'[{"eventType":"Ticket_Add","eventTime":1' + b"0" * 400 + b',"orgId":"1",'
        b'"payload":{"id":"1"}}]'
    )
    response = post(app, raw)
    assert response.status_code == 200, response.get_data()
    [row] = rows(app)
    assert (row.status, row.event_time) == ("pending", None)


def test_a_superscript_digit_event_time_is_stored_without_a_time(app: Flask) -> None:
    # Was a 500: "²".isdigit() is True, float("²") raises.
    response = post(app, [zoho_event("Ticket_Add", TICKET, eventTime="\u00b2")])
    assert response.status_code == 200, response.get_data()
    [row] = rows(app)
    assert (row.status, row.event_time) == ("pending", None)


def test_an_integer_too_long_for_python_quarantines_its_event_only(app: Flask) -> None:
    raw = (
        b'[{"eventType":"Ticket_Add","orgId":"1","payload":{"id":"1","modifiedTime":1'
        + b"0" * 5000
        + b'}},{"eventType":"Ticket_Add","orgId":"1","payload":{"id":"2"}}]'
    )
    response = post(app, raw)
    assert response.status_code == 200, response.get_data()
    assert [r.status for r in rows(app)] == ["quarantined", "pending"]


@pytest.mark.parametrize(
    "value",
    [
        "\u00b2",
        "\u0661\u0662\u0663",
        "1" + "0" * 400,
        10**400,
        float("nan"),
        float("inf"),
        True,
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
        10**15,  # epoch milliseconds in the year 33658
        -1,
        {"a": 1},
    ],
)
def test_parse_zoho_time_refuses_rather_than_crashes(value: object) -> None:
    assert parse_zoho_time(value) is None


def test_parse_zoho_time_keeps_the_range_it_documents() -> None:
    assert parse_zoho_time("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_zoho_time("2200-12-31T23:59:59Z") == datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_zoho_time(" 1795536000000 ") == datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert parse_zoho_time(1795536000) == datetime(2026, 11, 24, 16, tzinfo=UTC)


# ---- text the database cannot hold --------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: zoho_event("Ticket_Add", TICKET, orgId="\ud800"), "orgId"),  # was a 500
        (lambda: zoho_event("Ticket_Add\x00", TICKET), "eventType"),  # was a 503 on PostgreSQL
        (lambda: zoho_event("Ticket_Add", {**TICKET, "id": "43\x0021"}), "payload.id is not an id"),
        (lambda: zoho_event("Ticket_Add", {**TICKET, "id": "\ud800"}), "payload.id is not an id"),
        (lambda: zoho_event("Ticket_Add", {**TICKET, "status": "Open\x00"}), "payload.status"),
        (lambda: zoho_event("Ticket_Add", {**TICKET, "status": "\udfff"}), "payload.status"),
    ],
)
def test_unstorable_text_in_a_field_the_worker_reads_is_quarantined(
    app: Flask, make, field: str
) -> None:  # type: ignore[no-untyped-def]
    good = zoho_event("Ticket_Add", {**TICKET, "id": "999"})
    response = post(app, [good, make()])
    assert response.status_code == 200, response.get_data()
    answer = response.get_json()
    assert (answer["events"], answer["new"], answer["quarantined"]) == (2, 2, 1)
    expected = field if " " in field else f"{field} contains NUL or a lone surrogate"
    assert answer["problems"][0].startswith(f"events[1]: {expected}")
    kept, bad = rows(app)
    assert (kept.status, kept.ticket_id) == ("pending", "999")
    assert bad.status == "quarantined" and bad.last_error == answer["problems"][0]
    assert bad.body.isascii() and "\x00" not in bad.event_type + bad.ticket_id + bad.org_id
    json.loads(bad.body)  # the escaped form is still the event's JSON


@pytest.mark.parametrize("text", ["\x00", "\ud800", "a\udc00b\x00c"])
def test_unstorable_text_in_free_text_is_cleaned_and_stored(app: Flask, text: str) -> None:
    # Was a 500 (a lone surrogate cannot be encoded) or a 503 (PostgreSQL refuses NUL).
    payload = {**TICKET, "subject": text, "description": {"x": [text]}, text: "key"}
    response = post(app, [zoho_event("Ticket_Add", payload)])
    assert response.status_code == 200, response.get_data()
    assert response.get_json()["quarantined"] == 0
    [row] = rows(app)
    body = json.loads(row.body)
    cleaned = text.replace("\x00", "\ufffd").replace("\ud800", "\ufffd").replace("\udc00", "\ufffd")
    assert row.status == "pending"
    assert body["payload"]["subject"] == cleaned
    assert body["payload"]["description"] == {"x": [cleaned]}
    assert body["payload"][cleaned] == "key"


# ---- poison for the worker: refused at ingest, never retried ----------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"onholdTime": "yesterday"}, "payload.onholdTime is not a time"),
        ({"createdTime": "2026-13-45T00:00:00Z"}, "payload.createdTime is not a time"),
        ({"createdTime": "0001-01-01T00:00:00Z"}, "payload.createdTime is not a time"),
        ({"modifiedTime": "9999-12-31T23:59:59Z"}, "payload.modifiedTime is not a time"),
        ({"closedTime": 10**15}, "payload.closedTime is not a time"),
        ({"closedTime": "\u00b2"}, "payload.closedTime is not a time"),
        ({"cf": {"cf_eta": "next week"}}, "payload.cf.cf_eta is not a time"),
        ({"cf": {"cf_quote_status": "\x00"}}, "payload.cf.cf_quote_status contains NUL"),
        ({"cf": "x"}, "payload.cf is not a JSON object"),
        ({"priority": {"name": "High"}}, "payload.priority is not text"),
        ({"departmentId": "1\x00"}, "payload.departmentId contains NUL"),
        ({"modifiedBy": "\ud800"}, "payload.modifiedBy contains NUL or a lone surrogate"),
        ({"id": "../../webhooks"}, "payload.id is not an id"),
        ({"id": 1.5}, "payload.id is not an id"),
        ({"id": "x" * 33}, "payload.id is not an id"),
    ],
)
def test_an_event_the_worker_could_never_apply_is_quarantined(
    app: Flask, change: dict[str, Any], problem: str
) -> None:
    # Was a 200 and then a failure on every worker attempt.
    good = zoho_event("Ticket_Update", {**TICKET, "id": "5"})
    response = post(app, [good, zoho_event("Ticket_Add", {**TICKET, **change})])
    assert response.status_code == 200, response.get_data()
    answer = response.get_json()
    assert answer["quarantined"] == 1
    assert answer["problems"][0].startswith(f"events[1]: {problem}")
    assert [r.status for r in rows(app)] == ["pending", "quarantined"]


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (
            zoho_event("Ticket_Update", TICKET, prevState={**TICKET, "onholdTime": "soon"}),
            "prevState.onholdTime is not a time",
        ),
        (
            zoho_event("Ticket_Thread_Add", {**THREAD, "createdTime": "0001-01-01T00:00:00Z"}),
            "payload.createdTime is not a time",
        ),
        (
            zoho_event("Ticket_Thread_Add", {**THREAD, "author": "agent"}),
            "payload.author is not a JSON object",
        ),
        (
            zoho_event("Ticket_Thread_Add", {**THREAD, "direction": "out\x00"}),
            "payload.direction contains NUL",
        ),
        (zoho_event(" Ticket_Thread_Add ", {**THREAD, "ticketId": None}), "has no ticketId"),
        (
            zoho_event("Ticket_Add", {**TICKET, "cf": {"x": nested(31)}}),
            "nested deeper than 32 levels",
        ),
    ],
)
def test_prev_state_and_thread_fields_are_checked_too(app: Flask, event, problem: str) -> None:  # type: ignore[no-untyped-def]
    response = post(app, [event])
    assert response.status_code == 200, response.get_data()
    assert problem in response.get_json()["problems"][0]
    assert [r.status for r in rows(app)] == ["quarantined"]


def test_a_replayed_file_with_a_bad_event_is_refused_naming_it() -> None:
    # `inbox replay` (no quarantine): a person replaying a file hears what is wrong instead.
    raw = json.dumps([zoho_event("Ticket_Add", TICKET), zoho_event("Ticket_Add", {"id": "\x00"})])
    with pytest.raises(DeliveryError, match=r"^events\[1\]: payload.id is not an id"):
        parse_delivery(raw.encode())
    events = parse_delivery(raw.encode(), quarantine=True)
    assert [e.status for e in events] == ["pending", "quarantined"]


def test_a_quarantined_event_delivered_again_is_a_duplicate(app: Flask) -> None:
    bad = [zoho_event("Ticket_Add", {**TICKET, "status": "\x00"})]
    first, second = post(app, bad).get_json(), post(app, bad).get_json()
    assert (first["new"], first["quarantined"]) == (1, 1)
    assert (second["new"], second["duplicates"], second["quarantined"]) == (0, 1, 1)
    assert count(app) == 1


def test_a_null_cf_is_stored_as_an_empty_object(app: Flask) -> None:
    response = post(app, [zoho_event("Ticket_Update", {**TICKET, "cf": None})])
    assert response.status_code == 200
    [row] = rows(app)
    assert row.status == "pending" and json.loads(row.body)["payload"]["cf"] == {}


def test_an_unknown_event_type_with_odd_content_is_still_ignored(app: Flask) -> None:
    payload = {"id": {"not": "an id"}, "x": "\x00\ud800", "modifiedTime": "never"}
    response = post(app, [zoho_event("Contact_Add", payload)])
    assert response.status_code == 200
    [row] = rows(app)
    assert row.status == "ignored"


def test_live_mode_refuses_only_what_its_worker_reads(database_url: str, jwks: JwksServer) -> None:
    # Live, the worker fetches the ticket and reads only the type and id of the body: a payload
    # field Zoho formats unexpectedly is cleaned, not a reason to drop the refetch trigger.
    app = token_app(
        database_url,
        ZOHO_DESK_BASE_URL=jwks.url,
        ZOHO_ACCOUNTS_URL=jwks.url,
        ZOHO_ORG_ID=ORG,
        ZOHO_CLIENT_ID="client",
        ZOHO_CLIENT_SECRET="secret",
        ZOHO_REFRESH_TOKEN="refresh",
    )
    assert app.extensions["integration"].live
    odd = {**TICKET, "onholdTime": "27/11/2026", "status": "Open\x00", "cf": "x"}
    bad_id = {**TICKET, "id": "../x"}
    response = post(app, [zoho_event("Ticket_Update", odd), zoho_event("Ticket_Update", bad_id)])
    assert response.status_code == 200, response.get_data()
    kept, refused = rows(app)
    assert kept.status == "pending"
    assert json.loads(kept.body)["payload"]["status"] == "Open\ufffd"
    assert refused.status == "quarantined" and "payload.id is not an id" in refused.last_error
    app.extensions["integration"].dispose()


def test_a_streamed_body_over_the_limit_is_413(database_url: str) -> None:
    # No Content-Length (chunked): the limit is found while reading, inside the boundary.
    app = token_app(database_url, WEBHOOK_MAX_BODY_BYTES="2048")
    response = app.test_client().post(
        URL,
        query_string=f"token={TOKEN}",
        input_stream=io.BytesIO(b"[" + b" " * 4096 + b"]"),
        environ_overrides={"wsgi.input_terminated": True},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert count(app) == 0
    app.extensions["integration"].dispose()


# ---- the database: an outage is a 503, a value it refuses is a 422 ------------------------------


@pytest.mark.parametrize(
    "error",
    [
        DataError("INSERT ...", {}, Exception("text fields cannot contain NUL (0x00) bytes")),
        IntegrityError("INSERT ...", {}, Exception("null value violates not-null")),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        RuntimeError("a bug"),
    ],
)
def test_a_value_the_database_refuses_is_422_not_503(
    app: Flask, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(receive, "store", refuse)
    response = post(app, [zoho_event("Ticket_Add", TICKET)])
    assert response.status_code == 422
    assert "Retry-After" not in response.headers
    assert response.get_json()["error"] in {"unstorable_delivery", "unprocessable"}


def test_an_operational_error_is_still_503(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT ...", {}, Exception("connection refused"))

    monkeypatch.setattr(receive, "store", down)
    response = post(app, [zoho_event("Ticket_Add", TICKET)])
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


# ---- inbox status shows what was quarantined ------------------------------------------------


def test_inbox_status_lists_quarantined_events_with_their_reason(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    bad = zoho_event("Ticket_Add", {**TICKET, "onholdTime": "yesterday"})
    assert post(app, [zoho_event("Ticket_Add", TICKET), bad]).status_code == 200
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", app.extensions["integration"].settings.database_url)
    assert main(["inbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "quarantined events: 1 (set aside with their reason" in out
    assert "(Ticket_Add, ticket 4321): events[1]: payload.onholdTime is not a time" in out
    assert main(["inbox", "status", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["quarantined"] == 1
    [item] = body["quarantined_events"]
    assert item["reason"] == "events[1]: payload.onholdTime is not a time"


# ---- fuzz: any request, never a 5xx, and every answer is what was stored ----------------------

FUZZ_EXAMPLES = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "400"))
# Fixed examples by default (the same figures on every run and database); HOSTILE_FUZZ_RANDOM=1
# explores new ones.
FIXED = not os.environ.get("HOSTILE_FUZZ_RANDOM")

ODD_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "\ud800",
        "\udfff",
        "a\x00b",
        "\u00b2",
        "\u0661\u0662",
        "\U0001d7d9",
        "NaN",
        "-0",
        "1e999",
        "2026-11-27T18:30:00+25:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "-1795536000000",
        "9" * 30,
        "../x",
        " 1",
        "x" * 70,
        "<b>&#0;</b>",
    ]
)


def either(first: st.SearchStrategy[Any], second: st.SearchStrategy[Any]) -> Any:
    """One or the other, half and half (`first | second` would favour the one with more
    distinct values)."""
    return st.booleans().flatmap(lambda pick: first if pick else second)


ODD_TEXT = either(ODD_TEXT, st.text(max_size=12))
ODD_NUMBER = either(
    st.sampled_from([10**400, -(10**400), 2**63, 1e308, 10**15, 0, -1, float("nan")]),
    st.integers() | st.floats(),
)
SCALAR = st.none() | st.booleans() | ODD_NUMBER | ODD_TEXT
JUNK = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=8,
)
HOSTILE = SCALAR | JUNK


def time_as(moment: datetime, form: str) -> object:
    milliseconds = int(moment.replace(tzinfo=UTC).timestamp() * 1000)
    return {
        "iso": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "ms": str(milliseconds),
        "ms-number": milliseconds,
        "offset": moment.isoformat() + "-06:00",
    }[form]


# Times a Zoho ticket may carry, the calendar's edges included (parse_zoho_time: 1970-2200).
PLAUSIBLE_TIME = st.builds(
    time_as,
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 12, 30)),
    st.sampled_from(["iso", "ms", "ms-number", "offset"]),
)
PLAUSIBLE_TEXT = st.sampled_from(["Open", "On Hold", "Closed", "High", "Low", ""]) | st.text(
    max_size=15
)
PLAUSIBLE_ID = st.sampled_from(["4321", "432100000012345678"]) | st.from_regex(
    r"[0-9]{1,19}", fullmatch=True
)


def sometimes_hostile(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value Zoho could send, one time in ten anything at all. (Weighted by an integer:
    `one_of` would favour the branch with more distinct values, here the hostile one.)"""
    return st.integers(0, 9).flatmap(lambda n: plausible if n else HOSTILE)


def ticket_objects(time: Any, text: Any, ident: Any, free: Any) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"id": ident},
        optional={
            "subject": free,
            "description": free,
            "status": text,
            "statusType": text,
            "priority": text | st.none(),
            "modifiedTime": time,
            "createdTime": time,
            "onholdTime": time | st.none(),
            "closedTime": time | st.none(),
            "departmentId": ident,
            "accountId": ident | st.none(),
            "modifiedBy": ident,
            "ticketNumber": ident,
            "cf": st.none()
            | st.fixed_dictionaries(
                {}, optional={"cf_eta": time | st.none(), "cf_quote_status": text, "cf_x": free}
            ),
            "category": free,
        },
    )


def thread_objects(time: Any, text: Any, ident: Any) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"ticketId": ident},
        optional={
            "id": ident,
            "direction": st.sampled_from(["in", "out"]) | text,
            "visibility": st.sampled_from(["public", "private"]) | text,
            "status": st.sampled_from(["SUCCESS", "FAILED"]) | text,
            "author": st.none()
            | st.fixed_dictionaries({}, optional={"type": st.sampled_from(["AGENT"]) | text}),
            "createdTime": time,
            "isDescriptionThread": st.booleans() | HOSTILE,
        },
    )


def event_objects(
    time: Any, text: Any, ident: Any, free: Any, kinds: Any, *, mismatched: bool = True
) -> Any:
    """Events whose payload is of their type's shape (a thread for Ticket_Thread_Add), or, one
    time in four when `mismatched`, of either shape."""
    tickets = ticket_objects(time, text, ident, free)
    threads = thread_objects(time, text, ident)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        kind = draw(kinds)
        shape = threads if kind == "Ticket_Thread_Add" else tickets
        event = {
            "eventType": kind,
            "payload": draw(
                shape if draw(st.integers(0, 3)) or not mismatched else tickets | threads
            ),
        }
        optional = {"eventTime": time, "orgId": st.just("1") | text, "prevState": tickets}
        for key, values in optional.items():
            if draw(st.booleans()):
                event[key] = draw(values)
        return event

    return build()


nested_junk = st.integers(28, 40).map(nested)
HANDLED = ["Ticket_Add", "Ticket_Update", "Ticket_Thread_Add", "Ticket_Delete"]
events = event_objects(
    sometimes_hostile(PLAUSIBLE_TIME),
    sometimes_hostile(PLAUSIBLE_TEXT),
    sometimes_hostile(PLAUSIBLE_ID),
    sometimes_hostile(PLAUSIBLE_TEXT) | nested_junk,
    sometimes_hostile(st.sampled_from([*HANDLED, "Contact_Add"])),
)
RAW_BODIES = st.sampled_from(
    [
        b"",
        b"[]",
        b"{}",
        b"null",
        b"\xff\xfe",
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8: not UTF-8
        b"[" * 5000 + b"]" * 5000,
        b'[{"eventType":"Ticket_Add","payload":{"id":"1","status":1' + b"0" * 5000 + b"}}]",
        b'[{"eventType":"Ticket_Add","payload":{"id":"1"}}',
        b"\xef\xbb\xbf[]",
        b'[{"eventType":"Ticket_Add","payload":{"id":"1","x":NaN,"y":-Infinity}}]',
    ]
) | st.binary(max_size=40)


def encoded(value: object) -> bytes:
    return json.dumps(value).encode()  # lone surrogates travel as \ud800 escapes, like Java's


BODY_KINDS = [
    *[st.lists(events, min_size=1, max_size=4).map(encoded)] * 5,
    st.lists(events | HOSTILE, max_size=4).map(encoded),
    events.map(encoded),
    HOSTILE.map(encoded),
    RAW_BODIES,
    RAW_BODIES,
]
bodies = st.integers(0, len(BODY_KINDS) - 1).flatmap(BODY_KINDS.__getitem__)
ODD_QUERY = st.sampled_from(
    [
        "",
        "token=",
        "token=S3CRET",
        "token=s3cret%00",
        "token=%ED%A0%80",
        "token=%ff",
        "token=x&token=s3cret",
        "token=s3cret&token=x",
        "token[]=s3cret",
        "token=s3cret;x",
        "%zz=%",
    ]
) | st.text(max_size=20).map(lambda t: f"token={t}")
JWT_HEADERS = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "jku"]),
    st.just("RS256") | st.just("zoho-key-1") | HOSTILE,
)
LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


@st.composite
def fuzz_requests(draw: st.DrawFn, jwks: JwksServer) -> tuple[bytes, dict[str, str], str]:
    """(body, headers, query): authentic six times in ten, else an odd JWT, query, or both."""
    modes = ["ok"] * 6 + ["odd jwt", "odd query", "both odd"]
    auth = modes[draw(st.integers(0, len(modes) - 1))]
    headers = {"X-ZDesk-JWT": jwks.sign()}
    if auth in ("odd jwt", "both odd"):
        headers = draw(
            st.one_of(
                st.just({}),
                LATIN1.map(lambda t: {"X-ZDesk-JWT": t}),
                st.tuples(JWT_HEADERS, JUNK).map(lambda h: {"X-ZDesk-JWT": forged(*h)}),
                HOSTILE.map(lambda exp: {"X-ZDesk-JWT": jwks.sign(exp=exp)}),
            )
        )
    query = draw(ODD_QUERY) if auth in ("odd query", "both odd") else f"token={TOKEN}"
    return draw(bodies), headers, query


def check_answer(app: Flask, response, before_id: int) -> str:  # type: ignore[no-untyped-def]
    """The answer's invariants; returns a label for the figures."""
    code = response.status_code
    assert code in {200, 400, 401, 413}, (code, response.get_data()[:500])
    assert response.is_json
    body = response.get_json()
    with app.extensions["integration"].sessions() as session:
        new_rows = list(session.scalars(select(InboxEvent).where(InboxEvent.id > before_id)))
    if code != 200:
        assert new_rows == [], "a refused request stored something"
        return f"{code} {body['error']}"
    assert body["events"] == body["new"] + body["duplicates"]
    assert len(new_rows) == body["new"], "rows stored differ from the answer"
    assert body["quarantined"] == len(body["problems"]) <= body["events"]
    quarantined = [r for r in new_rows if r.status == "quarantined"]
    assert len(quarantined) <= body["quarantined"]
    assert len(new_rows) - len(quarantined) <= body["events"] - body["quarantined"]
    for row in new_rows:
        assert row.status in STORED_STATUSES
        json.loads(row.body)
        if row.status == "pending":
            assert re.fullmatch(r"[0-9A-Za-z_-]{1,32}", row.ticket_id)
    if not body["events"]:
        return "200 empty"
    return "200 with quarantined" if body["quarantined"] else "200 all stored"


@pytest.mark.heavy
def test_fuzz_any_request_is_answered_without_a_5xx(database_url: str, jwks: JwksServer) -> None:
    # A limit the generated "[[[...]]]" body (10 kB) is over: 413 is part of the figures.
    app = jwt_app(database_url, jwks, mode="jwt+token", WEBHOOK_MAX_BODY_BYTES="8192")
    client = app.test_client()
    figures: Counter[str] = Counter()
    events_seen: Counter[str] = Counter()

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=FIXED,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=fuzz_requests(jwks))
    def send(request: tuple[bytes, dict[str, str], str]) -> None:
        body, headers, query = request
        with app.extensions["integration"].sessions() as session:
            before_id = session.scalar(select(func.max(InboxEvent.id))) or 0
        response = client.post(
            URL, data=body, headers=headers, query_string=query, content_type="application/json"
        )
        note(f"{response.status_code} {response.get_data()[:300]!r}")
        label = check_answer(app, response, before_id)
        figures[label] += 1
        if response.status_code == 200:
            answer = response.get_json()
            events_seen["events"] += answer["events"]
            events_seen["quarantined"] += answer["quarantined"]
        hypothesis_event(label)

    try:
        send()
    finally:
        app.extensions["integration"].dispose()
        report(figures, "fuzz-requests", events_seen)


def report(
    figures: Counter[str], name: str, extra: Counter[str] | None = None, total: int | None = None
) -> None:
    database = "postgresql" if on_postgres() else "sqlite"
    summary: dict[str, Any] = {"test": name, "database": database}
    summary["total"] = sum(figures.values()) if total is None else total
    summary["answers"] = dict(sorted(figures.items()))
    summary.update(dict(extra or {}))
    print(f"\n{json.dumps(summary)}")
    path = os.environ.get("HOSTILE_FUZZ_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(summary) + "\n")


# ---- fuzz: what ingest accepts, the worker applies without a non-transient failure -------------

WORKER_EXAMPLES = int(os.environ.get("HOSTILE_WORKER_EXAMPLES", "60"))
SAFE_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20
)
accepted_events = event_objects(
    PLAUSIBLE_TIME,
    st.sampled_from(["Open", "On Hold", "Closed", "Esperando al cliente"]) | SAFE_TEXT,
    st.sampled_from(["4321", "4322"]) | PLAUSIBLE_ID,
    st.text(max_size=30) | st.sampled_from(["\ud800", "a\x00b", "Ataque masivo de SPAM"]),
    st.sampled_from(["Ticket_Add", "Ticket_Update", "Ticket_Thread_Add"]),
    mismatched=False,
)


def test_fuzz_the_worker_never_fails_on_what_ingest_accepted(database_url: str) -> None:
    app = token_app(database_url, WORKER_BACKOFF_S="0.01", WORKER_BACKOFF_MAX_S="0.01")
    client = app.test_client()
    container = app.extensions["integration"]
    figures: Counter[str] = Counter()

    @settings(
        max_examples=WORKER_EXAMPLES,
        deadline=None,
        derandomize=FIXED,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(delivery=st.lists(accepted_events, min_size=1, max_size=3))
    def apply(delivery: list[dict[str, Any]]) -> None:
        base = zoho_event("Ticket_Add", TICKET)  # so that threads find their ticket
        response = client.post(URL, json=[base, *delivery], query_string=f"token={TOKEN}")
        assert response.status_code == 200, response.get_data()
        Worker(container).run_until_idle()
        with container.sessions() as session:
            left = session.execute(
                select(InboxEvent.id, InboxEvent.status, InboxEvent.last_error).where(
                    InboxEvent.status.not_in(["done", "ignored", "quarantined"])
                )
            ).all()
        # A thread whose ticket is not known yet waits (RetryLater); nothing else may be left.
        bad = [tuple(r) for r in left if not r.last_error.startswith("RetryLater")]
        assert bad == [], bad
        answer = response.get_json()
        figures["events applied"] += answer["new"] - answer["quarantined"]
        figures["events quarantined"] += answer["quarantined"]
        figures["deliveries"] += 1

    try:
        apply()
        with container.sessions() as session:
            done = session.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "done")
            )
        assert done and done >= figures["deliveries"] // 4, "the worker applied (almost) nothing"
        figures["rows done"] = done
    finally:
        container.dispose()
        report(figures, "worker-deliveries", total=figures["deliveries"])


def test_a_broken_jwks_answer_is_not_kept_for_the_cache_hour(
    database_url: str, jwks: JwksServer
) -> None:
    """Zoho serves a broken JWKS once, then a good one: deliveries are accepted again after the
    refetch interval (60 s), not after PyJWKClient's hour-long cache."""
    app = jwt_app(database_url, jwks)
    verifier = app.extensions["integration"].webhook_auth.jwt
    now = [time.time()]
    verifier.clock = lambda: now[0]
    jwks.body, jwks.status = b'{"keys": []}', 200
    token = jwks.sign()
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert "JWKS" in assert_refused_401(app, response, token)

    jwks.body = json.dumps(jwks.good_jwks()).encode()
    now[0] += 61
    response = post(app, [zoho_event("Ticket_Add", TICKET)], headers={"X-ZDesk-JWT": token})
    assert response.status_code == 200, response.get_data()
    app.extensions["integration"].dispose()
