"""`integration worker` and `integration inbox ...`: run the worker; inspect, retry and replay."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select, update

from .. import db
from ..models import InboxEvent, OutboxWrite
from ..pipeline.step import WAITING
from .base import (
    UserError,
    cli,
    container_of,
    human_when,
    iso_instant,
    other_worker,
    refuse_second_worker,
    require_migrated,
    safe_url,
    settings_of,
    stop_on_signals,
)


@cli.command("worker")
@click.pass_context
def worker_command(ctx: click.Context) -> None:
    """Apply stored events and write results back to Zoho, until SIGTERM."""
    from ..logs import configure_logging
    from ..pipeline.worker import Worker

    settings = settings_of(ctx)
    configure_logging(settings.log_level, settings.log_format)
    require_migrated(settings.database_url)
    container = container_of(ctx)
    refuse_second_worker(container)
    stop = stop_on_signals(container.wake_worker)
    click.echo(
        f"worker: database={safe_url(settings.database_url)} "
        f"zoho-write-back={settings.write_back_mode}"
    )
    try:
        Worker(container).run(stop)
    finally:
        container.dispose()


@cli.group("inbox")
def inbox() -> None:
    """The inbox of Zoho events and the outbox of write-backs."""


@inbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts by state, the oldest waiting event, and what failed."""
    container = container_of(ctx)
    now = container.clock()
    try:
        with container.sessions() as session:
            events = dict(
                session.execute(
                    select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
                ).all()
            )
            writes = dict(
                session.execute(
                    select(OutboxWrite.status, func.count()).group_by(OutboxWrite.status)
                ).all()
            )
            oldest = session.scalar(
                select(func.min(InboxEvent.received_at)).where(
                    InboxEvent.status.in_(["pending", "processing"])
                )
            )
            failed_events = session.execute(
                select(
                    InboxEvent.id,
                    InboxEvent.event_type,
                    InboxEvent.ticket_id,
                    InboxEvent.last_error,
                )
                .where(InboxEvent.status == "failed")
                .order_by(InboxEvent.id)
                .limit(20)
            ).all()
            quarantined_events = session.execute(
                select(
                    InboxEvent.id,
                    InboxEvent.event_type,
                    InboxEvent.ticket_id,
                    InboxEvent.last_error,
                )
                .where(InboxEvent.status == "quarantined")
                .order_by(InboxEvent.id.desc())  # the latest first
                .limit(20)
            ).all()
            failed_writes = session.execute(
                select(OutboxWrite.ticket_id, OutboxWrite.last_error)
                .where(OutboxWrite.status == "failed")
                .limit(20)
            ).all()
            refused_writes = session.execute(
                select(OutboxWrite.ticket_id, OutboxWrite.refused)
                .where(OutboxWrite.refused != "{}")
                .order_by(OutboxWrite.updated_at.desc())
                .limit(20)
            ).all()
            waiting = {
                "events": session.scalar(
                    select(func.count()).where(
                        InboxEvent.status == "pending", InboxEvent.last_error.like(WAITING + "%")
                    )
                ),
                "writes": session.scalar(
                    select(func.count()).where(
                        OutboxWrite.status == "pending", OutboxWrite.last_error.like(WAITING + "%")
                    )
                ),
            }
        zoho = _zoho_state(container)
    finally:
        container.dispose()
    body = {
        "zoho": zoho,
        "events": events,
        "writes": writes,
        "oldest_waiting_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "failed_events": [
            {"id": i, "type": t, "ticket": k, "error": e} for i, t, k, e in failed_events
        ],
        # Events set aside, never to be applied (refused at ingest, or found unappliable by the
        # worker): the latest 20, with why.
        "quarantined": events.get("quarantined", 0),
        "quarantined_events": [
            {"id": i, "type": t, "ticket": k, "reason": e} for i, t, k, e in quarantined_events
        ],
        "failed_writes": [{"ticket": k, "error": e} for k, e in failed_writes],
        # Fields Zoho refused (a picklist without the value): the rest of the write landed.
        "refused_fields": [{"ticket": k, "fields": json.loads(r)} for k, r in refused_writes],
        # Rows put back because Zoho cannot be called now (credits, re-authorisation).
        "waiting_for_zoho": waiting,
        "write_back": container.settings.write_back_mode,
    }
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo("events: " + (", ".join(f"{k} {v}" for k, v in sorted(events.items())) or "none"))
    click.echo("writes: " + (", ".join(f"{k} {v}" for k, v in sorted(writes.items())) or "none"))
    if body["oldest_waiting_s"] is not None:
        click.echo(f"oldest waiting event: {body['oldest_waiting_s']} s")
    for item in body["failed_events"]:
        click.echo(
            f"failed event {item['id']} ({item['type']}, ticket {item['ticket']}): {item['error']}"
        )
    if body["quarantined"]:
        click.echo(
            f"quarantined events: {body['quarantined']} (set aside with their reason; "
            "`inbox retry --id N` tries one again)"
        )
    for item in body["quarantined_events"]:
        click.echo(
            f"quarantined event {item['id']} ({item['type'] or '-'}, "
            f"ticket {item['ticket'] or '-'}): {item['reason']}"
        )
    for item in body["failed_writes"]:
        click.echo(f"failed write for ticket {item['ticket']}: {item['error']}")
    for item in body["refused_fields"]:
        for name, detail in sorted(item["fields"].items()):
            click.echo(
                f'refused field {name} = "{detail.get("value")}" for ticket {item["ticket"]}: '
                f"{detail.get('reason')} (fix it in Zoho, then `inbox retry`)"
            )
    if waiting["events"] or waiting["writes"]:
        click.echo(f"waiting for Zoho: {waiting['events']} event(s), {waiting['writes']} write(s)")
    click.echo(
        f"write-back: {body['write_back']}"
        + (f" ({zoho})" if zoho not in {"ok", "dry-run"} else "")
    )


def _zoho_state(container) -> str:  # type: ignore[no-untyped-def]
    """Why Zoho calls may be stopped (read from the shared token state; no Zoho call)."""
    from ..zoho import HttpDeskClient

    if not isinstance(container.desk, HttpDeskClient):
        return "dry-run"
    state = container.desk.tokens.state()
    if state.reauth_required:
        return f"re-authorisation required: {state.reauth_reason}"
    if state.calls_paused_until is not None and state.calls_paused_until > container.clock():
        until = iso_instant(state.calls_paused_until)
        return f"calls paused until {until} (daily credits spent)"
    return "ok"


@inbox.command("retry")
@click.option("--id", "event_id", type=int, help="one event (default: every failed one)")
@click.pass_context
def retry(ctx: click.Context, event_id: int | None) -> None:
    """Put failed events and failed write-backs back in the queue."""
    container = container_of(ctx)
    now = container.clock()
    try:
        with db.transaction(container.sessions) as session:
            where = [InboxEvent.status == "failed"]
            if event_id is not None:  # one event: a quarantined one too (after a fix)
                where = [
                    InboxEvent.status.in_(["failed", "quarantined"]),
                    InboxEvent.id == event_id,
                ]
            events = session.execute(
                update(InboxEvent)
                .where(*where)
                .values(status="pending", attempts=0, waits=0, available_at=now, last_error="")
            ).rowcount
            if event_id is not None and not events:
                found = session.scalar(select(InboxEvent.status).where(InboxEvent.id == event_id))
                if found is None:
                    raise UserError(f"no event {event_id} in the inbox (`inbox status` lists them)")
                raise UserError(
                    f"event {event_id} is {found}, not failed or quarantined: nothing to retry"
                )
            writes = 0
            if event_id is None:
                # Failed writes, and writes with fields Zoho refused (once the field is fixed
                # in Zoho, e.g. a picklist value added): sent again, refusals forgotten.
                writes = session.execute(
                    update(OutboxWrite)
                    .where(
                        (OutboxWrite.status == "failed")
                        | ((OutboxWrite.status == "done") & (OutboxWrite.refused != "{}"))
                    )
                    .values(
                        status="pending",
                        attempts=0,
                        waits=0,
                        available_at=now,
                        refused="{}",
                        last_error="",
                    )
                ).rowcount
    finally:
        container.dispose()
    click.echo(f"requeued {events} event(s) and {writes} write-back(s)")


@inbox.command("replay")
@click.argument("delivery", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-process", is_flag=True, help="store only; let the running worker apply it")
@click.pass_context
def replay(ctx: click.Context, delivery: Path, no_process: bool) -> None:
    """Feed a saved delivery (Zoho's JSON array) through the whole pipeline.

    Only the events this command stores are applied (and their tickets' write-backs sent):
    the rest of the queue is left to the running worker."""
    from ..pipeline.inbox import DeliveryError, parse_delivery, store_returning_ids
    from ..pipeline.worker import Scope, Worker

    try:
        events = parse_delivery(delivery.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{delivery}: no such file") from None
    except DeliveryError as exc:
        raise UserError(f"{delivery}: {exc}") from None
    container = container_of(ctx)
    try:
        with db.transaction(container.sessions) as session:
            ids = store_returning_ids(session, events, source="replay", now=container.clock())
        click.echo(f"stored {len(ids)} new event(s), {len(events) - len(ids)} already known")
        if no_process or not ids:
            return
        other = other_worker(container)
        if other and db.is_sqlite(container.settings.database_url):
            click.echo(
                f"warning: {other}; on SQLite two processes applying events compete for the "
                "one writer (use --no-process to let that worker apply these)",
                err=True,
            )
        with container.sessions() as session:
            stored = session.execute(
                select(InboxEvent.id, InboxEvent.ticket_id).where(InboxEvent.id.in_(ids))
            ).all()
        scope = Scope(frozenset(ids), frozenset(t for _, t in stored if t))
        with Worker(container, name="replay", scope=scope) as worker:
            worker.run_until_idle()
        with container.sessions() as session:
            results = session.execute(
                select(
                    InboxEvent.id,
                    InboxEvent.event_type,
                    InboxEvent.ticket_id,
                    InboxEvent.status,
                    InboxEvent.last_error,
                )
                .where(InboxEvent.id.in_(ids))
                .order_by(InboxEvent.id)
            ).all()
    finally:
        container.dispose()
    for event_id, event_type, ticket_id, state, error in results:
        click.echo(
            f"event {event_id} ({event_type or '-'}, ticket {ticket_id or '-'}): {state}"
            + (f": {error}" if error else "")
        )


@cli.group("ticket")
def ticket() -> None:
    """What the service knows and decided about one ticket."""


@ticket.command("show")
@click.argument("ticket_id")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def show(ctx: click.Context, ticket_id: str, as_json: bool) -> None:
    """Classification, deadlines, SLA status, pending write and the audit trail."""
    from ..models import AuditEntry, TicketObservation, TrackedTicket

    container = container_of(ctx)
    try:
        with container.sessions() as session:
            tracked = session.get(TrackedTicket, ticket_id)
            if tracked is None:
                raise UserError(f"ticket {ticket_id} is not tracked")
            outbox = session.get(OutboxWrite, ticket_id)
            observations = session.scalar(
                select(func.count()).where(TicketObservation.ticket_id == ticket_id)
            )
            etas = session.scalars(
                select(TicketObservation.eta)
                .where(TicketObservation.ticket_id == ticket_id)
                .order_by(TicketObservation.modified_time)
            ).all()
            audit = session.scalars(
                select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id)
            ).all()
            set_aside = session.execute(
                select(
                    InboxEvent.id, InboxEvent.event_type, InboxEvent.status, InboxEvent.last_error
                )
                .where(
                    InboxEvent.ticket_id == ticket_id,
                    InboxEvent.status.in_(["quarantined", "failed"]),
                )
                .order_by(InboxEvent.id)
            ).all()
    finally:
        container.dispose()
    tz = container.policy.tz

    def when(moment: datetime | None) -> str:
        return human_when(moment, tz, container.policy.language)

    body = {
        "ticket": ticket_id,
        "priority": tracked.priority,
        "classified_priority": tracked.classified_priority,
        "kind": tracked.kind,
        "vendor": tracked.vendor or None,
        "rule": tracked.rule_id,
        "sla_status": tracked.sla_status,
        "response_due": iso_instant(tracked.response_due),
        "resolution_target": iso_instant(tracked.resolution_target),
        "resolution_due": iso_instant(tracked.resolution_due),
        "first_response_at": iso_instant(tracked.first_response_at),
        "next_check_at": iso_instant(tracked.next_check_at),
        "vendor_wait_s": json.loads(tracked.vendor_waits or "{}") or None,
        # operations work: how often the ETA was moved once set
        "eta_renegotiations": max(0, len(_changes([e for e in etas if e])) - 1),
        "deleted": tracked.deleted,
        "observations": observations,
        "comment": {
            "posted": tracked.comment_posted,
            "zoho_id": tracked.comment_id or None,
            "attempts": tracked.comment_attempts,
        },
        "write": None
        if outbox is None
        else {
            "status": outbox.status,
            "dry_run": outbox.dry_run,
            "writes": outbox.writes,
            "waits": outbox.waits,
            "last_error": outbox.last_error or None,
            "refused": json.loads(outbox.refused or "{}") or None,
        },
        "audit": [
            {"at": iso_instant(a.at), "decision": a.decision, "reason": a.reason} for a in audit
        ],
        "events_set_aside": [
            {"id": i, "type": t, "status": st, "reason": e} for i, t, st, e in set_aside
        ],
    }
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for key in ("priority", "kind", "rule", "sla_status"):
        click.echo(f"{key}: {body[key] or '-'}")
    if body["vendor"]:
        click.echo(f"vendor: {body['vendor']}")
    for key in (
        "response_due",
        "resolution_target",
        "resolution_due",
        "first_response_at",
        "next_check_at",
    ):
        click.echo(f"{key}: {when(getattr(tracked, key))}")
    if outbox is None:
        click.echo("write-back: none queued")
    else:
        click.echo(f"write-back: {_write_line(body['write'])}")
        for name, detail in sorted((body["write"]["refused"] or {}).items()):
            click.echo(
                f'refused by Zoho: {name} = "{detail.get("value")}": {detail.get("reason")} '
                "(fix the field in Zoho, then `inbox retry`)"
            )
    click.echo(f"comment: {_comment_line(body['comment'])}")
    if body["kind"] == "operations":
        click.echo(f"eta renegotiations: {body['eta_renegotiations']}")
    for vendor, seconds in sorted((body["vendor_wait_s"] or {}).items()):
        click.echo(f"waited on {vendor}: {seconds / 3600:.1f} h")
    for item in body["events_set_aside"]:
        click.echo(f"{item['status']} event {item['id']} ({item['type']}): {item['reason']}")
    click.echo("audit:")
    for entry in audit:
        click.echo(f"  {when(entry.at)}  {entry.decision}: {entry.reason}")


def _write_line(write: dict[str, Any]) -> str:
    """The outbox row for people: `done (dry-run: recorded, not sent), 0 write(s), 0 wait(s)`."""
    mode = " (dry-run: recorded, not sent)" if write["dry_run"] else ""
    line = f"{write['status']}{mode}, {write['writes']} write(s), {write['waits']} wait(s)"
    return line + (f", last error: {write['last_error']}" if write["last_error"] else "")


def _comment_line(comment: dict[str, Any]) -> str:
    if comment["posted"]:
        return f"posted (Zoho comment {comment['zoho_id']})"
    if comment["zoho_id"] == "dry-run":
        return "dry-run: recorded, not posted"
    return f"not posted yet ({comment['attempts']} attempt(s))"


def _changes(values: list[str]) -> list[str]:
    """The values in order, each repeat of the previous one dropped."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
