"""`/webhooks/zoho-desk`: authenticate, store durably, acknowledge (far under Zoho's 5 s).

No Zoho call and no SLA work happens here: the worker does that from the inbox. Answers are JSON;
401 for authentication, 400 naming a malformed body, 413 for a body over the limit, 503 when the
database cannot take the events (Zoho will deliver again). Never 410: Zoho deletes the subscription.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from .. import db
from .authenticate import WebhookAuthError
from .inbox import DeliveryError, parse_delivery, store

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
PATH = "/webhooks/zoho-desk"


@bp.get(PATH)
def validate():  # type: ignore[no-untyped-def]
    """Zoho's validation handshake when the webhook is created or its URL changes."""
    return jsonify(status="ok")


@bp.post(PATH)
def receive():  # type: ignore[no-untyped-def]
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
        events = parse_delivery(raw)
    except DeliveryError as exc:
        return jsonify(error="bad_delivery", detail=str(exc)), 400
    try:
        with db.transaction(container.sessions) as session:
            new, duplicates = store(session, events, source="webhook", now=container.clock())
    except SQLAlchemyError as exc:
        log.error("webhook not stored, database unavailable: %s", type(exc).__name__)
        response = jsonify(error="database_unavailable", detail="events not stored; retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    container.wake_worker()
    return jsonify(status="stored", events=len(events), new=new, duplicates=duplicates), 200
