"""`integration sla ...`: answer "why is this due then?" from the command line.

A public contract used by support leads and ops: JSON field names and exit codes are stable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from ..rules import (
    EtaChange,
    Hold,
    PolicyError,
    PriorityChange,
    Request,
    TicketHistory,
    classify,
    compute_deadlines,
    evaluate,
    explain,
    load_policy,
)
from ..rules.accuracy import evaluate as evaluate_corpus
from ..rules.calendar import CalendarError
from ..rules.deadlines import Deadline
from ..rules.policy import KINDS, Policy
from .base import UserError, cli, clock_of, iso_instant

iso_z = iso_instant  # UTC ISO-8601 with seconds and a trailing Z: 2026-11-30T14:30:00Z


# The years the command line computes in: the holiday calendars are known there, and a
# typo (0001, 9999, 2500) is refused with one line instead of overflowing the calendar.
SUPPORTED_YEARS = (2000, 2199)


def supported_range() -> str:
    return f"{SUPPORTED_YEARS[0]}-01-01 to {SUPPORTED_YEARS[1]}-12-31"


def parse_instant(text: str, tz: ZoneInfo, what: str) -> datetime:
    """ISO-8601; a naive time is read in the policy time zone. Only years in SUPPORTED_YEARS."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f'{what}: "{text}" is not an ISO-8601 time') from None
    if not SUPPORTED_YEARS[0] <= moment.year <= SUPPORTED_YEARS[1]:
        raise UserError(f'{what}: "{text}" is outside the supported range, {supported_range()}')
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _policy(path: str | None):  # type: ignore[no-untyped-def]
    from ..config import load_settings

    try:
        # Only the policy file is read: no server is needed, so no other setting matters here.
        policy_file = load_settings(only={"SLA_POLICY_FILE"}).sla_policy_file
        return load_policy(path or policy_file or None)
    except PolicyError as exc:
        raise UserError(f"policy: {exc}") from None


def _deadline_json(deadline: Deadline) -> dict[str, object]:
    return {
        "due": iso_z(deadline.due),
        "start": iso_z(deadline.start),
        "business_seconds": deadline.seconds,
        "note": deadline.note,
        "counted": [[iso_z(a), iso_z(b)] for a, b in deadline.counted()],
    }


@cli.group("sla")
def sla() -> None:
    """Compute and explain deadlines; classify requests."""


@sla.command("compute")
@click.option("--priority", required=True, help="Urgente/Urgent, Alta/High, Media/Medium, Baja/Low")
@click.option(
    "--created",
    required=True,
    help="creation time, ISO-8601 (without an offset: the policy's zone); years 2000-2199",
)
@click.option("--hold", "holds", multiple=True, help="START/END of a hold (END may be empty)")
@click.option("--change", "changes", multiple=True, help="AT=PRIORITY: a later priority change")
@click.option("--responded", help="first public agent response, ISO-8601")
@click.option("--closed", help="closing time, ISO-8601")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="standard",
    show_default=True,
    help="the request kind (classification's answer)",
)
@click.option("--vendor", default="", help="the vendor of a third_party request")
@click.option("--eta", help="operations ETA, ISO-8601")
@click.option("--account", default="", help="Zoho account id (dedicated-support plans)")
@click.option("--now", "now_text", help="evaluate the status at this time (default: now)")
@click.option("--policy", "policy_path", help="policy TOML (default: SLA_POLICY_FILE or shipped)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--lang",
    type=click.Choice(["es", "en"]),
    default="es",
    show_default=True,
    help="language of the explanation",
)
@click.pass_context
def compute(
    ctx: click.Context,
    priority: str,
    created: str,
    holds: tuple[str, ...],
    changes: tuple[str, ...],
    responded: str | None,
    closed: str | None,
    kind: str,
    vendor: str,
    eta: str | None,
    account: str,
    now_text: str | None,
    policy_path: str | None,
    as_json: bool,
    lang: str,
) -> None:
    """Deadlines of one ticket, with the intervals that produced them."""
    policy = _policy(policy_path)
    tz = policy.tz
    first = _priority(policy, priority, "--priority")
    history_changes = [PriorityChange(parse_instant(created, tz, "--created"), first)]
    for text in changes:
        at, sep, name = text.partition("=")
        if not sep:
            raise UserError(f'--change: "{text}" is not AT=PRIORITY')
        moment = parse_instant(at, tz, "--change")
        history_changes.append(PriorityChange(moment, _priority(policy, name, "--change")))
    created_at = history_changes[0].at
    history = TicketHistory(
        created=created_at,
        priorities=tuple(history_changes),
        holds=tuple(_hold(text, tz) for text in holds),
        kind=kind,
        vendor=vendor,
        first_response_at=parse_instant(responded, tz, "--responded") if responded else None,
        closed_at=parse_instant(closed, tz, "--closed") if closed else None,
        etas=(EtaChange(created_at, parse_instant(eta, tz, "--eta")),) if eta else (),
        account_id=account,
    )
    now = parse_instant(now_text, tz, "--now") if now_text else clock_of(ctx)()
    try:
        deadlines = compute_deadlines(policy, history)
    except CalendarError as exc:  # a deadline beyond the calendars' reach
        raise UserError(f"{exc} (supported: {supported_range()})") from None
    status = evaluate(history, deadlines, now)
    if not as_json:
        click.echo(explain(policy, history, deadlines, status, lang=lang))
        return
    body = {
        "policy": {"name": policy.name, "version": policy.version},
        "priority": deadlines.priority.key,
        "calendar": deadlines.calendar,
        "kind": deadlines.kind,
        "plan": deadlines.plan.id if deadlines.plan else None,
        "created": iso_z(history.created),
        "response_due": iso_z(deadlines.response.due),
        "resolution_target": iso_z(deadlines.resolution_target.due),
        "resolution_due": iso_z(deadlines.resolution_due.due),
        "response_warning": iso_z(deadlines.response_warning),
        "resolution_warning": iso_z(deadlines.resolution_warning),
        "paused_since": iso_z(deadlines.paused_since),
        "holds": [{"start": iso_z(h.start), "end": iso_z(h.end)} for h in history.holds],
        "status": status.status,
        "status_at": iso_z(now),
        "next_status_change": iso_z(status.next_change_at),
        "deadlines": {
            d.name: _deadline_json(d)
            for d in (deadlines.response, deadlines.resolution_target, deadlines.resolution_due)
        },
    }
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _priority(policy, name: str, option: str) -> str:  # type: ignore[no-untyped-def]
    """The key of the priority called `name`; an unknown name lists every name the policy has
    for each priority (Spanish and English)."""
    try:
        return policy.priority(name).key
    except PolicyError:
        known = ", ".join(
            "/".join(dict.fromkeys((*p.names, p.key))) for p in policy.priorities.values()
        )
        raise UserError(f'{option}: unknown priority "{name}" (known: {known})') from None


def _hold(text: str, tz: ZoneInfo) -> Hold:
    start, sep, end = text.partition("/")
    if not sep:
        raise UserError(f'--hold: "{text}" is not START/END')
    begin = parse_instant(start, tz, "--hold")
    finish = parse_instant(end, tz, "--hold") if end.strip() else None
    if finish is not None and finish < begin:
        raise UserError(f'--hold: "{text}" ends before it starts')
    return Hold(begin, finish)


@sla.command("classify")
@click.argument("text", required=False)
@click.option("--subject", help="the ticket's subject (or give it as the argument)")
@click.option("--description", default="", help="the ticket's description")
@click.option("--category", default=None, help="the ticket's category")
@click.option("--field", "extra", multiple=True, help="NAME=VALUE of another ticket field")
@click.option(
    "--eval",
    "eval_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="a labelled corpus CSV: print accuracy per priority and kind and the confusion matrix",
)
@click.option("--min-accuracy", type=float, help="with --eval: exit 1 below this share (0-1)")
@click.option("--quiet", is_flag=True, help="with --eval: leave out the list of misses")
@click.option("--policy", "policy_path", help="policy TOML (default: SLA_POLICY_FILE or shipped)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def classify_command(
    text: str | None,
    subject: str | None,
    description: str,
    category: str | None,
    extra: tuple[str, ...],
    eval_files: tuple[str, ...],
    min_accuracy: float | None,
    quiet: bool,
    policy_path: str | None,
    as_json: bool,
) -> None:
    """Which priority and kind a request gets, by which rule, on what evidence; or, with --eval,
    how a labelled corpus fares."""
    policy = _policy(policy_path)
    if eval_files:
        _evaluate(policy, eval_files, min_accuracy, quiet, as_json)
        return
    subject = subject if subject is not None else text
    if subject is None:
        raise UserError("give the subject (as the argument or --subject), or --eval FILE")
    fields: dict[str, str | None] = {"category": category}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f'--field: "{item}" is not NAME=VALUE')
        fields[name.strip()] = value
    result = classify(policy, Request(subject=subject, description=description, fields=fields))
    body = {
        "priority": result.priority,
        "kind": result.kind,
        "vendor": result.vendor or None,
        "rule": result.rule_id,
        "rule_description": result.description,
        "confidence": result.confidence,
        "evidence": list(result.evidence),
    }
    if not as_json:
        for key, value in body.items():
            if isinstance(value, list):
                click.echo(f"{key}:")
                for line in value:
                    click.echo(f"  - {line}")
            else:
                click.echo(f"{key}: {'-' if value is None else value}")
        return
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _evaluate(
    policy: Policy, files: tuple[str, ...], minimum: float | None, quiet: bool, as_json: bool
) -> None:
    from ..corpus import CorpusError, read_corpus

    results = {}
    for path in files:
        try:
            examples = read_corpus(path, policy)
        except CorpusError as exc:
            raise UserError(str(exc)) from None
        results[path] = evaluate_corpus(policy, examples)
    if as_json:
        click.echo(json.dumps({p: e.as_dict() for p, e in results.items()}, ensure_ascii=False))
    else:
        for path, evaluation in results.items():
            click.echo(f"== {path}")
            click.echo(evaluation.render(show_misses=not quiet))
            click.echo("")
    if minimum is not None:
        low = [p for p, e in results.items() if e.accuracy < minimum]
        if low:
            raise click.exceptions.Exit(1)


@sla.command("overrides")
@click.option("--since", help="only tickets created (and overrides made) on or after DATE")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False),
    help="write the overridden subjects as a corpus CSV, labelled with the agents' priority",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def overrides_command(
    ctx: click.Context, since: str | None, export_path: str | None, as_json: bool
) -> None:
    """How often agents changed the priority the service set, per rule, and on which subjects."""
    from sqlalchemy import func, select

    from ..corpus import write_corpus
    from ..models import PriorityOverride, TrackedTicket
    from .base import container_of

    container = container_of(ctx)
    policy = container.policy
    start = None
    if since:
        start = parse_instant(
            since if "T" in since else f"{since}T00:00", policy.tz, "--since"
        ).astimezone(UTC)
    classified = select(TrackedTicket.rule_id, func.count()).group_by(TrackedTicket.rule_id)
    changed = select(PriorityOverride).where(
        PriorityOverride.agent_priority != PriorityOverride.classified_priority
    )
    if start is not None:
        classified = classified.where(TrackedTicket.created_at >= start)
        changed = changed.where(PriorityOverride.changed_at >= start)
    try:
        with container.sessions() as session:
            totals = dict(session.execute(classified).all())
            rows = session.scalars(changed.order_by(PriorityOverride.changed_at)).all()
            session.expunge_all()
    finally:
        container.dispose()
    per_rule: dict[str, int] = {}
    for row in rows:
        per_rule[row.rule_id] = per_rule.get(row.rule_id, 0) + 1
    rules = [
        {
            "rule": rule,
            "tickets": totals.get(rule, 0),
            "overridden": per_rule.get(rule, 0),
            "rate": round(per_rule.get(rule, 0) / totals[rule], 4) if totals.get(rule) else None,
        }
        for rule in sorted(set(totals) | set(per_rule))
    ]
    overridden = [
        {
            "ticket": row.ticket_number or row.ticket_id,
            "subject": row.subject,
            "rule": row.rule_id,
            "from": row.classified_priority,
            "to": row.agent_priority,
            "changed_at": iso_z(row.changed_at),
        }
        for row in rows
    ]
    if export_path:
        count = write_corpus(
            export_path,
            (
                {
                    "subject": row.subject,
                    "priority": row.agent_priority,
                    "kind": row.kind,
                    "vendor": row.vendor,
                    "note": f"agent override of rule {row.rule_id} "
                    f"({row.classified_priority} -> {row.agent_priority}) on ticket "
                    f"{row.ticket_number or row.ticket_id}",
                }
                for row in rows
            ),
        )
        if not as_json:
            click.echo(
                f"wrote {count} overridden subjects to {export_path} (review before merging)"
            )
    if as_json:
        click.echo(json.dumps({"rules": rules, "overrides": overridden}, ensure_ascii=False))
        return
    click.echo(f"{'rule':<30} {'tickets':>8} {'overridden':>11} {'rate':>7}")
    for item in rules:
        rate = "-" if item["rate"] is None else f"{item['rate']:.1%}"
        click.echo(f"{item['rule']:<30} {item['tickets']:>8} {item['overridden']:>11} {rate:>7}")
    if overridden:
        click.echo("")
        click.echo("overridden subjects:")
        for item in overridden:
            click.echo(
                f"  #{item['ticket']} {item['from']} -> {item['to']} ({item['rule']}): "
                f"{item['subject']!r} at {item['changed_at']}"
            )


@sla.command("recompute")
@click.option("--dry-run", is_flag=True, help="print what would change; write nothing")
@click.option("--ticket", "ticket_id", help="only this ticket (its Zoho id)")
@click.option(
    "--policy",
    "policy_path",
    help="with --dry-run: preview this candidate policy TOML instead of the one in force",
)
@click.option(
    "--figures",
    "fill_figures",
    is_flag=True,
    help="only fill the compliance report's figures of tickets computed before the report "
    "existed (closed ones too); nothing else changes, nothing is written to Zoho",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def recompute_command(
    ctx: click.Context,
    dry_run: bool,
    ticket_id: str | None,
    policy_path: str | None,
    fill_figures: bool,
    as_json: bool,
) -> None:
    """Recompute open tickets under the current policy and calendars, after a policy change.

    Prints each ticket whose deadlines, priority or status change (old, new, and why: a day
    off added inside its window, a target changed...) and queues the new values for write-back
    through the outbox, like any other decision. Closed and deleted tickets are never touched.
    --dry-run rolls every change back; with --policy it previews a candidate file first."""
    from ..pipeline.recompute import Recompute
    from .base import container_of, human_when

    if fill_figures:
        if dry_run or ticket_id or policy_path:
            raise UserError("--figures goes alone (it changes no deadline and writes nothing)")
        container = container_of(ctx)
        try:
            filled, failed = Recompute(container).fill_figures()
        finally:
            container.dispose()
        if as_json:
            click.echo(json.dumps({"filled": filled, "failed": failed}))
        else:
            click.echo(
                f"filled the report figures of {filled} ticket(s)"
                + (f"; {failed} could not be computed (see the log)" if failed else "")
            )
        if failed:
            ctx.exit(1)
        return
    candidate = None
    if policy_path:
        if not dry_run:
            raise UserError(
                "--policy previews a candidate with --dry-run only: deploy it "
                "(SLA_POLICY_FILE) and run `sla recompute` to apply it"
            )
        try:
            candidate = load_policy(policy_path)
        except PolicyError as exc:
            raise UserError(f"--policy: {exc}") from None
    container = container_of(ctx)
    try:
        recompute = Recompute(container, candidate)
        policy = recompute.policy
        results = []
        checked = 0
        for result in recompute.run(dry_run=dry_run, ticket_id=ticket_id):
            checked += 1
            if result.changed:
                results.append(result)
    finally:
        container.dispose()
    if ticket_id is not None and checked == 0:
        raise UserError(f"ticket {ticket_id} is not an open tracked ticket")

    def shown(value: object) -> str:
        if isinstance(value, datetime):
            return human_when(value, policy.tz, policy.language)
        return str(value) if value not in (None, "") else "-"

    if as_json:
        click.echo(
            json.dumps(
                {
                    "policy": policy.revision,
                    "dry_run": dry_run,
                    "checked": checked,
                    "changed": sum(1 for r in results if not r.error),
                    "failed": sum(1 for r in results if r.error),
                    "tickets": [
                        {
                            "ticket": r.ticket_id,
                            "number": r.ticket_number,
                            "from_policy": r.old_version,
                            "changes": [
                                {
                                    "field": c.name,
                                    "old": iso_z(c.old) if isinstance(c.old, datetime) else c.old,
                                    "new": iso_z(c.new) if isinstance(c.new, datetime) else c.new,
                                }
                                for c in r.changes
                            ],
                            "writes": r.writes,
                            "why": r.reasons,
                            "error": r.error or None,
                        }
                        for r in results
                    ],
                },
                ensure_ascii=False,
            )
        )
        if any(r.error for r in results):
            ctx.exit(1)
        return
    for r in results:
        number = f" (#{r.ticket_number})" if r.ticket_number else ""
        if r.error:
            click.echo(
                f"ticket {r.ticket_id}{number}: cannot be computed under this policy: {r.error}"
            )
            continue
        click.echo(f"ticket {r.ticket_id}{number}: policy {r.old_version or '-'} → {r.new_version}")
        for change in r.changes:
            click.echo(f"  {change.name:<18} {shown(change.old)} → {shown(change.new)}")
        if r.writes:
            click.echo(f"  {'writes':<18} {', '.join(r.writes)}")
        for reason in r.reasons:
            click.echo(f"  why: {reason}")
    outcome = "dry run: nothing written" if dry_run else "queued for write-back"
    failed = [r for r in results if r.error]
    click.echo(
        f"{checked} open ticket(s) checked under policy {policy.revision}, "
        f"{len(results) - len(failed)} changed; {outcome}"
        + (f"; {len(failed)} cannot be computed under it (left as they were)" if failed else "")
    )
    if failed:
        ctx.exit(1)
