"""`integration report`: the compliance report of a period, from the figures the service stored
on each ticket (see `integration/report/`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from .base import UserError, cli, container_of
from .sla import SUPPORTED_YEARS, supported_range


def _day(text: str, option: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f'{option}: "{text}" is not a date (YYYY-MM-DD)') from None
    if not SUPPORTED_YEARS[0] <= day.year <= SUPPORTED_YEARS[1]:
        raise UserError(f'{option}: "{text}" is outside the supported range, {supported_range()}')
    return day


@cli.command("report")
@click.option("--month", help="the month to report, YYYY-MM (default: the previous month)")
@click.option("--from", "first", help="first day to report, YYYY-MM-DD (with --to)")
@click.option("--to", "last", help="last day to report, YYYY-MM-DD, included (with --from)")
@click.option(
    "--by",
    type=click.Choice(["priority", "account", "rule", "vendor"]),
    default="priority",
    show_default=True,
    help="one row per priority, account, classification rule or vendor",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "html"]),
    default="table",
    show_default=True,
    help="table for a terminal, csv, json, or one self-contained HTML file",
)
@click.option(
    "--lang",
    type=click.Choice(["es", "en"]),
    default="es",
    show_default=True,
    help="language of the table and the HTML (CSV and JSON keys are English)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="write the report to this file instead of the standard output",
)
@click.pass_context
def report_command(
    ctx: click.Context,
    month: str | None,
    first: str | None,
    last: str | None,
    by: str,
    fmt: str,
    lang: str,
    out: str | None,
) -> None:
    """SLA compliance of the tickets created in a period (local dates in the policy's time zone,
    deleted tickets left out): first response and resolution met %, breaches, business times,
    pauses, vendor waits, ETA renegotiations and agents' priority overrides, per group."""
    from .. import db
    from ..report import Period, month_period, previous_month, render, report_for
    from ..report.html import render_html

    if month and (first or last):
        raise UserError("--month: give either --month or --from/--to, not both")
    if bool(first) != bool(last):
        raise UserError("--from and --to go together")
    container = container_of(ctx)
    try:
        tz = container.policy.tz
        now = container.clock()
        if month:
            year = month.split("-")[0].strip()
            if year.isdigit() and not SUPPORTED_YEARS[0] <= int(year) <= SUPPORTED_YEARS[1]:
                raise UserError(
                    f'--month: "{month}" is outside the supported range, {supported_range()}'
                )
            try:
                period = month_period(month, tz)
            except ValueError as exc:
                raise UserError(f"--month: {exc}") from None
        elif first and last:
            period = Period(_day(first, "--from"), _day(last, "--to"), tz)
            if period.last < period.first:
                raise UserError(f"--to {last} is before --from {first}")
        else:
            period = previous_month(now, tz)
        report = report_for(
            db.read_only(container.sessions), container.policy, period, by=by, lang=lang, now=now
        )
    finally:
        container.dispose()
    missing = sum(1 for row in report.tickets if not row.response_state)
    if missing:  # on stderr: the report itself (csv, json, html) stays as it is
        click.echo(
            f"note: {missing} ticket(s) of the period have no figures yet (computed before the "
            "report existed): `python -m integration sla recompute --figures` fills them",
            err=True,
        )
    text = {
        "table": lambda: render.render_table(report, lang),
        "csv": lambda: render.render_csv(report),
        "json": lambda: render.render_json(report),
        "html": lambda: render_html(report, lang),
    }[fmt]()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    click.echo(
        f"wrote the {fmt} report of {period.first.isoformat()} – {period.last.isoformat()} "
        f"({report.totals.tickets} tickets) to {out}"
    )
