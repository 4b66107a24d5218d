"""`/webhooks/zoho-desk`: authenticate, store durably, acknowledge (far under Zoho's 5 s).

No Zoho call and no SLA work happens here: the worker does that from the inbox. One boundary turns
any request into a JSON answer, and only these:

- 200: stored (`events`, `new`, `duplicates`, `quarantined` and the `problems` of quarantined
  events: each invalid event is stored aside, naming its problem, and the valid ones beside it
  are kept); `[]` stores nothing;
- 400: the body is not UTF-8 JSON, or not an array/object of events at all;
- 401: authentication (the JWT, the JWKS, the token), naming the problem, never the token;
- 413: the body is over the limit;
- 422: a value the database can never store (it should not happen: events are cleaned first), or
  an unexpected failure that retrying cannot fix;
- 503 with Retry-After: the database is unavailable (connection refused, down, timed out).

Never 500, never 410 (Zoho deletes a subscription that answers 410).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .. import db
from .authenticate import WebhookAuthError, exc_name
from .inbox import DeliveryError, parse_delivery, store

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
PATH = "/webhooks/zoho-desk"
MAX_PROBLEMS_LISTED = 100

# The database refused a value, not the connection: waiting cannot help, so no 503.
UNSTORABLE = (DataError, IntegrityError, UnicodeError, ValueError, TypeError, OverflowError)


def _unstorable(exc: BaseException) -> bool:
    if isinstance(exc, UNSTORABLE):
        return True
    # SQLAlchemy wraps a failure to bind a value (before the database is reached) in a
    # StatementError that is not a DBAPIError.
    return (
        isinstance(exc, SQLAlchemyError)
        and not isinstance(exc, DBAPIError)
        and isinstance(getattr(exc, "orig", None), UNSTORABLE)
    )


@bp.get(PATH)
def validate():  # type: ignore[no-untyped-def]
    """Zoho's validation handshake when the webhook is created or its URL changes."""
    return jsonify(status="ok")


@bp.post(PATH)
def receive():  # type: ignore[no-untyped-def]
    response, code = _answer()
    body = (response.get_json(silent=True) or {}) if code == 200 else {}
    current_app.extensions["integration"].metrics.delivery(
        code, new=int(body.get("new", 0)), events=int(body.get("events", 0))
    )
    return response, code


def _answer():  # type: ignore[no-untyped-def]
    try:
        return _receive()
    except HTTPException as exc:  # e.g. the body grew over the limit while being read: 413
        code = 400 if exc.code in (None, 410) else exc.code
        name = "payload_too_large" if code == 413 else exc.name.lower().replace(" ", "_")
        return jsonify(error=name, detail=exc.description), code
    except Exception as exc:  # a bug, not the database: say so, never 500
        log.exception("webhook failed unexpectedly")
        return jsonify(error="unprocessable", detail=f"delivery not stored ({exc_name(exc)})"), 422


def _receive():  # type: ignore[no-untyped-def]
    container = current_app.extensions["integration"]
    limit = container.settings.webhook_max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return jsonify(error="payload_too_large", detail=f"the limit is {limit} bytes"), 413
    try:
        container.webhook_auth.authenticate(request.headers, request.args)
    except WebhookAuthError as exc:
        log.warning("webhook refused: %s", exc)
        return jsonify(error="unauthorized", detail=str(exc)), 401
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before this returns
    try:
        events = parse_delivery(
            raw,
            container.policy.fields,
            payload_is_history=not container.live,
            quarantine=True,
        )
    except DeliveryError as exc:
        return jsonify(error="bad_delivery", detail=str(exc)), 400
    problems = [e.problem for e in events if e.quarantined]
    try:
        with container.engine.begin() as connection:  # Core: no ORM session on this path
            new, duplicates = store(connection, events, source="webhook", now=container.clock())
    except Exception as exc:
        if not _unstorable(exc):
            if not isinstance(exc, SQLAlchemyError):
                raise
            log.error("webhook not stored, database unavailable: %s", db.describe_error(exc))
            detail = "events not stored; retry later"
            response = jsonify(error="database_unavailable", detail=detail)
            response.headers["Retry-After"] = "30"
            return response, 503
        log.error("webhook not stored, the database refused a value: %s", exc_name(exc))
        detail = f"the database refused a value of this delivery ({exc_name(exc)}); not stored"
        return jsonify(error="unstorable_delivery", detail=detail), 422
    if problems:
        log.warning("webhook: %d event(s) quarantined, e.g. %s", len(problems), problems[0])
    container.wake_worker()
    return jsonify(
        status="stored",
        events=len(events),
        new=new,
        duplicates=duplicates,
        quarantined=len(problems),
        problems=problems[:MAX_PROBLEMS_LISTED],
    ), 200
