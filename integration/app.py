"""The web application: `create_app(config=None, **overrides)` builds the container (see
`container.py`) and puts the health and webhook endpoints in front of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.exceptions import HTTPException

from .config import Settings
from .container import build_container
from .health import run_checks
from .pipeline.receive import bp as webhooks_bp

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


def create_app(config: Settings | Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    container = build_container(config, **overrides)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = container.settings.webhook_max_body_bytes
    app.extensions["integration"] = container
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
