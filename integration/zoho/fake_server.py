"""A fake Zoho Desk over HTTP: Flask on a local port, serving the state of a `FakeDesk`.

Serves the token endpoint, tickets, threads, comments, tags, search, organization fields, myinfo,
webhooks and a JWKS document; records every request; injects faults on demand; and fires webhook
deliveries in Zoho's shape (a JSON array of events, signed with `X-ZDesk-JWT` by its own RSA key).
Used by end-to-end tests, benchmarks and demos (`python -m integration fake-zoho --port N`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import make_server

from .errors import ZohoError
from .fake import FakeDesk, RecordedRequest


class WebhookSigner:
    """Signs deliveries like Zoho: RS256 JWT, iss orgId:<org>, aud webhookId:<id>."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def rotate(self) -> None:
        """A new signing key under a new kid (the JWKS then serves only the new one)."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(
        self,
        org_id: str,
        webhook_id: str,
        *,
        lifetime_s: int = 300,
        milliseconds: bool = False,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
    ) -> str:
        now = time.time()
        scale = 1000 if milliseconds else 1
        claims = {
            "iss": f"orgId:{org_id}",
            "aud": f"webhookId:{webhook_id}",
            "iat": int(now * scale),
            "exp": int((now + lifetime_s) * scale),
        }
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


def event(
    event_type: str,
    payload: dict[str, Any],
    org_id: str,
    *,
    prev_state: dict[str, Any] | None = None,
    event_time: str | None = None,
) -> dict[str, Any]:
    """One event object of a delivery, with eventTime as epoch milliseconds (a string)."""
    body: dict[str, Any] = {
        "eventType": event_type,
        "eventTime": event_time or str(int(time.time() * 1000)),
        "orgId": org_id,
        "payload": payload,
    }
    if prev_state is not None:
        body["prevState"] = prev_state
    return body


def create_fake_app(
    desk: FakeDesk,
    signer: WebhookSigner,
    *,
    latency_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Flask:
    """The fake's Flask app. `latency_s`: every API call (`/api/v1/...`) is answered that much
    later, as a distant Zoho would (benchmarks); `sleep` waits it (tests pass a recorder)."""
    app = Flask("fake_zoho_desk")

    def error(status: int, code: str, message: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        response = jsonify(errorCode=code, message=message)
        response.status_code = status
        response.headers.update(headers or {})
        return response

    @app.before_request
    def record_and_fault():  # type: ignore[no-untyped-def]
        body: Any = None
        if request.is_json:
            body = request.get_json(silent=True)
        elif request.form:
            body = {
                k: ("***" if "secret" in k or "token" in k else v) for k, v in request.form.items()
            }
        desk.record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.args),
                body=body,
                at=datetime.now(UTC),
                has_source_id="sourceId" in request.headers,
            )
        )
        if request.path.startswith("/.well-known"):
            return None
        delay = latency_s or desk.latency_s
        if delay > 0 and request.path.startswith("/api/v1/"):
            sleep(delay)
        fault = desk.take_fault(request.method, request.path)
        if fault is None:
            return None
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.status == 200:  # a slow but otherwise normal answer
            return None
        if fault.applied:  # Zoho acts on the request, then the answer is lost or an error
            g.fault_after = fault
            return None
        response = jsonify(fault.body or {"errorCode": "INTERNAL_SERVER_ERROR", "message": "fault"})
        response.status_code = fault.status
        response.headers.update(fault.headers)
        return response

    @app.after_request
    def fault_after_applying(response: Response) -> Response:
        fault = g.pop("fault_after", None)
        if fault is None:
            return response
        answer = jsonify(fault.body or {"errorCode": "INTERNAL_SERVER_ERROR", "message": "fault"})
        answer.status_code = fault.status
        answer.headers.update(fault.headers)
        return answer

    @app.after_request
    def credits(response: Response) -> Response:
        if request.path.startswith("/api/v1/"):
            with desk._lock:
                desk.credits_remaining = max(0, desk.credits_remaining - 1)
                response.headers["X-Rate-Limit-Remaining-v3"] = str(desk.credits_remaining)
                response.headers["X-Rate-Limit-Request-Weight-v3"] = "1"
        return response

    @app.errorhandler(ZohoError)
    def zoho_error(exc: ZohoError):  # type: ignore[no-untyped-def]
        response = jsonify(
            errorCode=exc.code,
            message=exc.message,
            errors=[
                {"fieldName": e.field_name, "errorType": e.error_type, "errorMessage": e.message}
                for e in exc.field_errors
            ],
        )
        response.status_code = exc.status
        return response

    @app.post("/oauth/v2/token")
    def token():  # type: ignore[no-untyped-def]
        form = {**request.args, **request.form}
        return jsonify(desk.mint_token(form))

    @app.get("/.well-known/jwks.json")
    def jwks():  # type: ignore[no-untyped-def]
        return jsonify(signer.jwks())

    @app.before_request
    def authenticate():  # type: ignore[no-untyped-def]
        if not request.path.startswith("/api/v1/"):
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Zoho-oauthtoken" or not desk.token_valid(token):
            return error(401, "INVALID_OAUTH", "The OAuth token is invalid or expired")
        if request.headers.get("orgId") != desk.org_id:
            return error(400, "OAUTH_ORG_MISMATCH", "orgId does not match the token's org")
        return None

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ZohoError(422, "EMPTY_PAYLOAD", "a JSON object body is required")
        return data

    def paged(items: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        if not items:
            return Response(status=204)
        return jsonify(data=items)

    @app.get("/api/v1/tickets")
    def list_tickets():  # type: ignore[no-untyped-def]
        offset, limit = int(request.args.get("from", 0)), int(request.args.get("limit", 25))
        assignee = request.args.get("assignee", "")
        return paged(desk.list_tickets(assignee, offset, min(limit, 100)))

    @app.get("/api/v1/tickets/<ticket_id>")
    def get_ticket(ticket_id: str):  # type: ignore[no-untyped-def]
        return jsonify(desk.get_ticket(ticket_id))

    @app.patch("/api/v1/tickets/<ticket_id>")
    def update_ticket(ticket_id: str):  # type: ignore[no-untyped-def]
        return jsonify(desk.update_ticket(ticket_id, body()))

    @app.post("/api/v1/tickets/<ticket_id>/comments")
    def add_comment(ticket_id: str):  # type: ignore[no-untyped-def]
        data = body()
        return jsonify(
            desk.add_comment(
                ticket_id, str(data.get("content", "")), public=bool(data.get("isPublic"))
            )
        )

    @app.get("/api/v1/tickets/<ticket_id>/comments")
    def list_comments(ticket_id: str):  # type: ignore[no-untyped-def]
        comments = desk.list_comments(ticket_id)
        offset, limit = int(request.args.get("from", 0)), int(request.args.get("limit", 10))
        return paged(comments[offset : offset + limit])

    @app.post("/api/v1/tickets/<ticket_id>/associateTag")
    def add_tags(ticket_id: str):  # type: ignore[no-untyped-def]
        tags = [str(t) for t in body().get("tags") or []]
        desk.add_tags(ticket_id, tags)
        return jsonify(data=[{"name": t} for t in tags])

    @app.get("/api/v1/tickets/<ticket_id>/threads")
    def list_threads(ticket_id: str):  # type: ignore[no-untyped-def]
        threads = desk.list_threads(ticket_id)
        if request.args.get("sortBy", "-sendDateTime").startswith("-"):
            threads.reverse()
        offset, limit = int(request.args.get("from", 0)), int(request.args.get("limit", 10))
        return paged(threads[offset : offset + limit])

    def time_range(name: str) -> tuple[datetime, datetime] | None:
        if name not in request.args:
            return None
        since, _, until = request.args[name].partition(",")
        try:
            low = datetime.fromisoformat(since.replace("Z", "+00:00"))
            high = datetime.fromisoformat(until.replace("Z", "+00:00"))
        except ValueError:
            raise ZohoError(422, "INVALID_DATA", f"{name} is not from,to") from None
        return low, high

    @app.get("/api/v1/tickets/search")
    def search():  # type: ignore[no-untyped-def]
        offset, limit = int(request.args.get("from", 0)), int(request.args.get("limit", 10))
        found = desk.search(
            modified=time_range("modifiedTimeRange"),
            created=time_range("createdTimeRange"),
            sort_by=request.args.get("sortBy", "modifiedTime"),
            offset=offset,
            limit=limit,
        )
        return paged(found)

    @app.get("/api/v1/organizationFields")
    def fields():  # type: ignore[no-untyped-def]
        return jsonify(data=desk.ticket_fields())

    @app.get("/api/v1/myinfo")
    def myinfo():  # type: ignore[no-untyped-def]
        return jsonify(desk.myinfo())

    @app.get("/api/v1/webhooks")
    def list_webhooks():  # type: ignore[no-untyped-def]
        return paged(desk.list_webhooks())

    @app.get("/api/v1/views")
    def list_views():  # type: ignore[no-untyped-def]
        if request.args.get("module") != "tickets":
            return error(422, "INVALID_DATA", "module must be tickets")
        return paged(desk.list_views())

    @app.post("/api/v1/webhooks")
    def create_webhook():  # type: ignore[no-untyped-def]
        return jsonify(desk.create_webhook(body()))

    @app.patch("/api/v1/webhooks/<webhook_id>")
    def update_webhook(webhook_id: str):  # type: ignore[no-untyped-def]
        return jsonify(desk.update_webhook(webhook_id, body()))

    @app.delete("/api/v1/webhooks/<webhook_id>")
    def delete_webhook(webhook_id: str):  # type: ignore[no-untyped-def]
        desk.delete_webhook(webhook_id)
        return Response(status=204)

    @app.errorhandler(404)
    def not_found(_exc: Exception):  # type: ignore[no-untyped-def]
        return error(404, "URL_NOT_FOUND", f"no such URL {request.path}")

    return app


def seed_tickets(desk: FakeDesk, folder: Path) -> list[str]:
    """Create in the fake the tickets of the saved deliveries in `folder` (`*.json`: Zoho's
    array of events, or one ticket object), so a demo's delivery names a ticket that exists.
    Returns the ticket ids, in file order; raises ValueError naming a file that is not JSON."""
    seeded: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not JSON ({exc})") from None
        items = body if isinstance(body, list) else [{"payload": body}]
        for item in items:
            if not isinstance(item, dict):
                continue
            payload = item.get("payload")
            kind = str(item.get("eventType", "Ticket_Add"))
            if not kind.startswith("Ticket_") or "Thread" in kind or "Comment" in kind:
                continue
            if not isinstance(payload, dict) or not payload.get("id"):
                continue
            ticket_id = str(payload["id"])
            if ticket_id not in desk.tickets:
                desk.create_ticket(**payload)
                seeded.append(ticket_id)
    return seeded


class FakeZohoServer:
    """The fake served on 127.0.0.1:<port> from a background thread. Use as a context manager."""

    def __init__(
        self,
        desk: FakeDesk | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        latency_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.desk = desk or FakeDesk()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per fake request
        self.signer = WebhookSigner()
        self.app = create_fake_app(self.desk, self.signer, latency_s=latency_s, sleep=sleep)
        self._server = make_server(host, port, self.app, threaded=True)
        self.port = self._server.port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeZohoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> FakeZohoServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def deliver(
        self,
        url: str,
        events: Iterable[dict[str, Any]],
        *,
        webhook_id: str = "fake-webhook",
        jwt_token: str | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a delivery at `url` as Zoho would: a JSON array with an X-ZDesk-JWT header."""
        token = (
            jwt_token if jwt_token is not None else self.signer.sign(self.desk.org_id, webhook_id)
        )
        return requests.post(
            url,
            data=json.dumps(list(events)),
            headers={"Content-Type": "application/json", "X-ZDesk-JWT": token},
            timeout=timeout,
        )
