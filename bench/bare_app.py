"""The bare Flask app `bench_ingest.py` serves under the Procfile's gunicorn command, beside the
service: one webhook route that reads the body and answers 200 with a constant JSON object (the
shape of the service's answer), and `/healthz`. What gunicorn and Flask alone cost per delivery.

`gunicorn ... 'bare_app:create_app()'` with this folder on PYTHONPATH.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

ANSWER = {"status": "stored", "events": 1, "new": 1, "duplicates": 0, "quarantined": 0}


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/zoho-desk")
    def webhook():  # type: ignore[no-untyped-def]
        request.get_data(cache=False)
        return jsonify(ANSWER)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    return app
