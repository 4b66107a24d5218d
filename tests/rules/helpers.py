"""Helpers for rule scenarios: instants written as local Mexico City (or another zone) times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from integration.rules import PriorityChange, TicketHistory, load_policy

MEXICO = ZoneInfo("America/Mexico_City")
POLICY = load_policy()  # the shipped Ignus policy
HOUR = 3600.0


def mx(text: str, tz: ZoneInfo = MEXICO) -> datetime:
    """'2026-11-27 18:30' in Mexico City (or `tz`)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def ticket(created: str, priority: str, **kwargs: object) -> TicketHistory:
    at = mx(created)
    return TicketHistory(created=at, priorities=(PriorityChange(at, priority),), **kwargs)  # type: ignore[arg-type]


def policy_with(**sections: object):  # type: ignore[no-untyped-def]
    """The shipped policy with some top-level sections merged in (tables) or replaced (lists)."""
    import tomllib

    from integration.rules.policy import parse_policy, shipped_policy_path

    data = tomllib.loads(shipped_policy_path().read_text(encoding="utf-8"))
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return parse_policy(data)
