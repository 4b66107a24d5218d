"""Ignus SLA service for Zoho Desk."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # `integration.create_app` for gunicorn, without importing Flask into the worker, the clock
    # and the CLI, which import `integration.<module>` and never need the web layer.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
