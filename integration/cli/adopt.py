"""`integration adopt`: bring the portal's open tickets under the policy (pipeline/adopt.py)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import click

from .base import UserError, cli, container_of, human_when, iso_instant, other_worker, settings_of
from .sla import parse_instant

STOPPED_EXIT = 1  # stopped before the walk was done (Zoho, the credit reserve): run again


@cli.command("adopt")
@click.option(
    "--since",
    help="read tickets created on or after DATE (policy time zone unless it has an offset); "
    "without it, resume where the last run stopped (the first run reads every ticket)",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="read at most N tickets (open or closed) this run; the next run goes on from there",
)
@click.option(
    "--keep-credits",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="stop once Zoho reports fewer API credits left today (0: never), leaving them to the "
    "service; each adopted ticket costs the worker about five calls more",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="read the portal and print what would be adopted; store nothing, move no cursor",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def adopt_command(
    ctx: click.Context,
    since: str | None,
    limit: int | None,
    keep_credits: int,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Adopt the portal's open tickets: one inbox event per open ticket the service does not
    track yet, applied by the worker like any other (priority kept, deadlines from creation).
    Resumable: a run stopped by Zoho, --limit or a crash goes on where it stopped."""
    from ..pipeline.adopt import EARLIEST, adopt_open_tickets

    settings = settings_of(ctx)
    container = container_of(ctx)
    try:
        if container.desk is None:
            missing = settings.zoho_credentials_unset
            raise UserError(
                "adopt reads the portal's tickets and needs Zoho credentials (write-back is "
                f"dry-run): set {', '.join(missing)} (see config.example.env)"
            )
        policy = container.policy
        start = None
        if since:
            text = f"{since}T00:00" if len(since.strip()) == 10 else since  # a date: midnight
            start = parse_instant(text, policy.tz, "--since").astimezone(UTC)
            if start > container.clock():
                raise UserError(f'--since: "{since}" is in the future')
        result = adopt_open_tickets(
            container, since=start, limit=limit, keep_credits=keep_credits, dry_run=dry_run
        )
        worker = None if dry_run or not result.enqueued else other_worker(container)
    finally:
        container.dispose()

    def when(moment: Any) -> str:
        if moment == EARLIEST:
            return "the first ticket"
        return human_when(moment, policy.tz, policy.language)

    if as_json:
        click.echo(json.dumps(_as_json(result), ensure_ascii=False))
    else:
        _print(result, when, worker)
    if result.stopped:
        click.echo(
            f"stopped: {result.stopped}; run adopt again to resume"
            + (f" from {when(result.cursor)}" if result.cursor else ""),
            err=True,
        )
        ctx.exit(STOPPED_EXIT)


def _print(result: Any, when: Any, worker: str | None) -> None:
    verb = "would enqueue" if result.dry_run else "enqueued"
    walk = "resuming the walk" if result.resumed else "a new walk"
    click.echo(
        f"{'dry-run: ' if result.dry_run else ''}tickets created from {when(result.since)} "
        f"to {when(result.until)} ({walk} started at {when(result.walk_from)})"
    )
    click.echo(
        f"pages read: {result.pages}, tickets found: {result.found}, {verb}: {result.enqueued}, "
        f"already tracked: {result.already_tracked}, already adopted: {result.already_adopted}, "
        f"skipped (closed): {result.closed}"
        + (f", quarantined: {result.quarantined}" if result.quarantined else "")
    )
    if result.enqueued:
        click.echo(f"{verb} by priority: {_counts(result.by_priority)}")
        click.echo(f"{verb} by status: {_counts(result.by_status)}")
    for slice_ in result.unreachable:
        click.echo(f"warning: not readable by Zoho's search (too many at one instant): {slice_}")
    if result.dry_run:
        click.echo("dry-run: nothing stored, cursor not moved")
    elif result.complete:
        click.echo(
            f"walk complete: every open ticket created up to {when(result.cursor)} is adopted "
            "or tracked; the next run reads the tickets created since"
        )
    elif result.limited:
        click.echo(f"--limit reached: the next run resumes from {when(result.cursor)}")
    if not result.dry_run and result.enqueued:
        click.echo(
            "the worker applies them and writes them back (`inbox status` shows the backlog)"
            + ("" if worker else "; no worker is running on this database: start `run` or `worker`")
        )


def _counts(counter: Any) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items()))


def _as_json(result: Any) -> dict[str, Any]:
    return {
        "dry_run": result.dry_run,
        "walk_from": iso_instant(result.walk_from),
        "since": iso_instant(result.since),
        "until": iso_instant(result.until),
        "resumed": result.resumed,
        "pages": result.pages,
        "found": result.found,
        "enqueued": result.enqueued,
        "already_tracked": result.already_tracked,
        "already_adopted": result.already_adopted,
        "closed": result.closed,
        "quarantined": result.quarantined,
        "by_priority": dict(sorted(result.by_priority.items())),
        "by_status": dict(sorted(result.by_status.items())),
        "cursor": iso_instant(result.cursor),
        "complete": result.complete,
        "limited": result.limited,
        "stopped": result.stopped or None,
        "unreachable": result.unreachable,
    }
