"""The web application: `create_app(config=None, **overrides)` builds the container (see
`container.py`) and puts the health, metrics and webhook endpoints in front of it.

`create_app()` with no config is the production entry (gunicorn's app factory): it reads the
environment and configures logging (`LOG_LEVEL`, `LOG_FORMAT`). Tests pass their settings and
keep their own logging.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import logs, metrics
from .config import Settings
from .container import build_container
from .health import run_checks
from .pipeline.receive import bp as webhooks_bp

REQUEST_ID_HEADER = "X-Request-ID"
_GIVEN_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@health_bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    ok, results = run_checks(current_app.extensions["integration"].readiness_checks)
    body: dict[str, object] = {"status": "ready" if ok else "not ready", "checks": results}
    if not ok:
        body["failing"] = [r["name"] for r in results if not r["ok"]]
    return jsonify(body), 200 if ok else 503


@health_bp.get("/metrics")
def metrics_endpoint():  # type: ignore[no-untyped-def]
    body = metrics.scrape(current_app.extensions["integration"])
    return Response(body, mimetype=None, content_type=metrics.CONTENT_TYPE)


def _start_request() -> None:
    """The request's id: the caller's `X-Request-ID` when it is a plain token, else a new one;
    every log line of the request carries it, and so does the answer."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    rid = given if _GIVEN_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_id_token = logs.request_id.set(rid)
    g.request_id = rid


def _end_request(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    return response


def _forget_request(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)


def create_app(config: Settings | Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    container = build_container(config, **overrides)
    if config is None:  # the process's entry (gunicorn): its logging is ours to set
        logs.configure_logging(container.settings.log_level, container.settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = container.settings.webhook_max_body_bytes
    app.extensions["integration"] = container
    app.before_request(_start_request)
    app.after_request(_end_request)
    app.teardown_request(_forget_request)
    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_error_handler(HTTPException, _json_http_error)
    app.register_error_handler(Exception, _json_internal_error)
    return app


def _json_internal_error(exc: Exception):  # type: ignore[no-untyped-def]
    if isinstance(exc, HTTPException):
        return _json_http_error(exc)
    logging.getLogger(__name__).exception("unhandled error")
    return jsonify(error="internal_error", detail="see the service log"), 500


def _json_http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    """Every HTTP error is JSON naming the problem.

    410 is never produced: Zoho deletes a webhook subscription that answers 410.
    """
    code = exc.code or 500
    if code == 410:
        code = 404
    return jsonify(error=exc.name.lower().replace(" ", "_"), detail=exc.description), code
