"""`integration status`: one screen for ops, read from the database the service runs on.

Everything here is what the running processes recorded (heartbeats, inbox, outbox, notices,
the poll cursor, the shared OAuth state), so it shows the running worker's write-back mode, not
the mode this shell's settings would give.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import func, select

from .base import cli, container_of


def _local(moment: datetime | None, tz: Any) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)")


def _age(now: datetime, moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _counts(session: Any, column: Any, *where: Any) -> dict[str, int]:
    """Rows per value of `column` (per status, per kind)."""
    return dict(session.execute(select(column, func.count()).where(*where).group_by(column)).all())


def gather(container: Any) -> dict[str, Any]:
    """The figures of the screen, as plain data (the `--json` output)."""
    from ..clock.poll import CURSOR
    from ..health import WAITING, WorkerBeat, oldest_waiting_event
    from ..models import Cursor, InboxEvent, Notice, OAuthToken, OutboxWrite, ProcessHeartbeat

    now = container.clock()
    tz = container.policy.tz
    local_now = now.astimezone(tz)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    with container.sessions() as session:
        beats = {b.name: b for b in session.scalars(select(ProcessHeartbeat))}
        inbox = _counts(session, InboxEvent.status)
        oldest = oldest_waiting_event(session)
        outbox = _counts(session, OutboxWrite.status)
        refused = session.scalar(select(func.count()).where(OutboxWrite.refused.not_in(("", "{}"))))
        fired = _counts(
            session, Notice.kind, Notice.due_at >= today, Notice.due_at < today + timedelta(days=1)
        )
        notices = _counts(session, Notice.status)
        cursor = session.get(Cursor, CURSOR)
        token = session.scalar(select(OAuthToken).limit(1))
    worker = beats.get("worker")
    clock = beats.get("clock")
    said = WorkerBeat.parse(worker.detail) if worker is not None else None
    mode = (said.mode if said else "") or "unknown (no worker has run)"
    credits = said.credits if said else None
    if token is None:
        auth = "no token stored (dry-run, or no Zoho call made yet)"
    elif token.reauth_required:
        auth = f"re-authorisation required: {token.reauth_reason}"
    elif token.calls_paused_until and token.calls_paused_until > now:
        auth = f"calls paused until {_local(token.calls_paused_until, tz)} (credits spent)"
    else:
        auth = "ok"
    return {
        "now": now.isoformat(),
        "write_back": mode,
        "worker": {
            "last_beat": worker.beat_at.isoformat() if worker else None,
            "age_s": round((now - worker.beat_at).total_seconds()) if worker else None,
        },
        "clock": {
            "last_beat": clock.beat_at.isoformat() if clock else None,
            "age_s": round((now - clock.beat_at).total_seconds()) if clock else None,
            "last_poll_up_to": cursor.at.isoformat() if cursor else None,
        },
        "inbox": {
            "waiting": sum(inbox.get(state, 0) for state in WAITING),
            "oldest_waiting": oldest.isoformat() if oldest else None,
            "failed": inbox.get("failed", 0),
            "quarantined": inbox.get("quarantined", 0),
        },
        "outbox": {
            "pending": sum(outbox.get(state, 0) for state in WAITING),
            "failed": outbox.get("failed", 0),
            "with_refused_fields": refused or 0,
        },
        "today": {
            "warnings": fired.get("at_risk", 0),
            "breaches": fired.get("breached", 0),
            "follow_ups": fired.get("follow_up", 0) + fired.get("eta_reminder", 0),
        },
        "notices": {"pending": notices.get("pending", 0), "failed": notices.get("failed", 0)},
        "zoho": {"auth": auth, "credits_left": credits},
    }


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """One screen for ops: backlog, failed and refused writes, warnings and breaches today, last
    poll, Zoho credits and auth, and the running worker's write-back mode."""
    container = container_of(ctx)
    try:
        facts = gather(container)
    finally:
        container.dispose()
    if as_json:
        click.echo(json.dumps(facts))
        return
    tz = container.policy.tz
    now = container.clock()

    def when(text: str | None) -> str:
        return _local(datetime.fromisoformat(text), tz) if text else "never"

    def ago(text: str | None) -> str:
        return _age(now, datetime.fromisoformat(text)) if text else "-"

    inbox, outbox, today = facts["inbox"], facts["outbox"], facts["today"]
    lines = [
        f"status at {when(facts['now'])}",
        f"write-back: {facts['write_back']} (as the running worker reports it)",
        f"worker:     last beat {ago(facts['worker']['last_beat'])} ago"
        if facts["worker"]["last_beat"]
        else "worker:     never ran on this database",
        f"clock:      last beat {ago(facts['clock']['last_beat'])} ago; "
        f"poll read Zoho up to {when(facts['clock']['last_poll_up_to'])}"
        if facts["clock"]["last_beat"]
        else "clock:      never ran on this database",
        f"inbox:      {inbox['waiting']} waiting (oldest {ago(inbox['oldest_waiting'])}), "
        f"{inbox['failed']} failed, {inbox['quarantined']} quarantined",
        f"outbox:     {outbox['pending']} pending, {outbox['failed']} failed, "
        f"{outbox['with_refused_fields']} with fields Zoho refused",
        f"today:      {today['warnings']} warnings, {today['breaches']} breaches, "
        f"{today['follow_ups']} follow-ups and reminders "
        f"({facts['notices']['pending']} notices pending, {facts['notices']['failed']} failed)",
        f"zoho:       auth {facts['zoho']['auth']}; credits left "
        + (
            "unknown"
            if facts["zoho"]["credits_left"] is None
            else str(facts["zoho"]["credits_left"])
        ),
    ]
    click.echo("\n".join(lines))
