"""`integration zoho ...` and `integration fake-zoho`: set-up checks, webhook registration, and a
fake Zoho Desk for demos."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..config import Settings
from .base import UserError, cli, container_of, settings_of

WEBHOOK_NAME = "ignus-sla-service"
FIELD_TYPES = {  # policy field -> (accepted Zoho types, needed for write-back)
    "response_due": ({"DateTime"}, True),
    "resolution_target": ({"DateTime"}, True),
    "resolution_due": ({"DateTime"}, True),
    "status": ({"Picklist"}, True),
    "rule": ({"Text", "Textarea"}, True),
    "eta": ({"DateTime", "Date"}, False),
    "quote_status": ({"Picklist", "Text"}, False),
}
PICKLIST_SETUP = "Setup > Customization > Layouts and Fields > Tickets"
WEBHOOK_URL_MAX_ON_CREATE = 500  # Zoho stores a webhook URL of up to 500 characters on create,
WEBHOOK_URL_MAX_ON_UPDATE = 100  # but takes only 100 on update (PATCH)


@dataclass
class Check:
    state: str  # ok | missing | failed | warn
    name: str
    detail: str

    def line(self) -> str:
        return f"[{self.state}]".ljust(10) + f"{self.name}: {self.detail}"


def _client(ctx: click.Context, settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from ..zoho import build_http_client

    settings = settings or settings_of(ctx)
    if not settings.zoho_configured:
        raise UserError(
            "Zoho is not configured: set ZOHO_ORG_ID, ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and "
            "ZOHO_REFRESH_TOKEN (see config.example.env)"
        )
    container = container_of(ctx)
    return container, build_http_client(settings, container.sessions, container.clock)


@cli.group("zoho")
def zoho() -> None:
    """Zoho Desk set-up: credentials check and webhook registration."""


def run_checks(
    settings: Settings, desk: Any, policy: Any, now: datetime | None = None
) -> list[Check]:
    from ..zoho import ReauthorizationRequired, ZohoError

    checks: list[Check] = []
    missing = settings.zoho_credentials_unset
    if missing:
        return [Check("missing", "credentials", "set " + ", ".join(missing))]
    checks.append(Check("ok", "credentials", "org id, client id, secret and refresh token set"))
    try:
        cached_until = desk.tokens.cached_until()
        desk.tokens.access_token()
        if cached_until is not None:
            until = cached_until.astimezone(UTC).isoformat(timespec="seconds")
            detail = f"cached, valid until {until} (Zoho was not asked for a new one)"
        else:
            detail = "Zoho issued a new access token"
        checks.append(Check("ok", "access token", detail))
    except ReauthorizationRequired as exc:
        checks.append(
            Check(
                "failed",
                "access token",
                f"{exc.reason}: create a new refresh token (README, Zoho set-up) and restart",
            )
        )
        return checks
    except Exception as exc:
        checks.append(Check("failed", "access token", f"{type(exc).__name__}: {exc}"))
        return checks

    unreachable: list[str] = []  # once Zoho does not answer, the rest is not asked

    def probe(name: str, call: Any) -> Any:
        if unreachable:
            checks.append(
                Check("failed", name, f"not checked: Zoho did not answer ({unreachable[0]})")
            )
            return None
        try:
            result = call()
        except ZohoError as exc:
            checks.append(Check("failed", name, f"{exc.status} {exc.code}: {exc.message}"))
            if exc.status == 0:
                unreachable.append(exc.code)
            return None
        except Exception as exc:
            checks.append(Check("failed", name, f"{type(exc).__name__}: {exc}"))
            return None
        checks.append(Check("ok", name, "answers"))
        return result

    me = probe("organisation and Desk.basic.READ (myinfo)", desk.myinfo)
    if me:
        checks[-1].detail = f"agent {me.get('name')!r} (id {me.get('id')}) in org {desk.org_id}"
    now = now or datetime.now(UTC)
    probe(
        "Desk.tickets.READ + Desk.search.READ (ticket search)",
        lambda: next(
            iter(desk.search_modified_tickets(now - timedelta(hours=1), now, page_size=1)), None
        ),
    )
    if me:
        checks.append(_integration_agent_check(desk, me))
    listed = probe("Desk.settings.READ (ticket fields)", desk.ticket_fields)
    webhooks = probe("Desk.webhooks.READ (webhooks)", desk.list_webhooks)
    if listed is None:  # the fields could not be read: nothing to say about each one
        checks.extend(_webhook_checks(settings, webhooks))
        return checks
    fields = listed or []

    by_name = {f.get("apiName"): f for f in fields}
    for key, (types, needed) in FIELD_TYPES.items():
        api_name = getattr(policy.fields, key)
        found = by_name.get(api_name)
        wanted = "/".join(sorted(types))
        if found is None:
            state = "missing" if needed else "warn"
            checks.append(
                Check(
                    state,
                    f"field {api_name}",
                    f"create a {wanted} ticket field with API name {api_name}",
                )
            )
        elif found.get("type") not in types:
            checks.append(
                Check(
                    "failed" if needed else "warn",
                    f"field {api_name}",
                    f"is {found.get('type')}, expected {wanted}",
                )
            )
        else:
            checks.append(Check("ok", f"field {api_name}", str(found.get("type"))))

    if fields:
        checks.extend(_picklist_checks(fields, policy))

    if fields:
        from ..zoho.client import statuses_from_fields

        shown = []
        for status in statuses_from_fields(fields):
            pauses = policy.readings.pauses(status["value"], status["statusType"])
            shown.append(
                f"{status['value']} ({status['statusType']}{', pauses' if pauses else ''})"
            )
        checks.append(Check("ok", "statuses", "; ".join(shown) or "none listed"))

    checks.extend(_webhook_checks(settings, webhooks))
    if not unreachable:
        checks.extend(_view_checks(desk, policy))
    return checks


def _view_checks(desk: Any, policy: Any) -> list[Check]:
    """The leads' views (`zoho views`) found among the portal's, by name; a portal whose API
    does not list views is told to check by hand (a warning: nothing breaks without them)."""
    from ..zoho import ZohoError
    from ..zoho.views import missing_views, views

    try:
        listed = desk.list_views()
    except ZohoError as exc:
        return [
            Check(
                "warn",
                "views",
                f"could not be listed ({exc.status} {exc.code}): check by hand that the views "
                "of `python -m integration zoho views` exist",
            )
        ]
    missing = missing_views(policy, listed)
    if not missing:
        return [Check("ok", "views", f"all {len(views(policy))} leads' views found")]
    return [
        Check("warn", f'view "{view.name}"', "not found: create it (`zoho views` prints how)")
        for view in missing
    ]


def _webhook_checks(settings: Settings, webhooks: list[dict[str, Any]] | None) -> list[Check]:
    checks: list[Check] = []
    if "jwt" in settings.webhook_auth and not settings.zoho_webhook_id:
        checks.append(
            Check(
                "missing",
                "ZOHO_WEBHOOK_ID",
                "WEBHOOK_AUTH checks Zoho's JWT, whose audience is webhookId:<id>: set it",
            )
        )
    if webhooks is not None:
        ours = [w for w in webhooks if w.get("name") == WEBHOOK_NAME]
        if ours:
            detail = f"registered, id {ours[0].get('id')} -> {ours[0].get('url')}"
            if settings.zoho_webhook_id and settings.zoho_webhook_id != ours[0].get("id"):
                checks.append(
                    Check(
                        "failed",
                        "webhook",
                        detail + f"; ZOHO_WEBHOOK_ID is {settings.zoho_webhook_id}",
                    )
                )
            else:
                checks.append(Check("ok", "webhook", detail))
        else:
            checks.append(_no_webhook_check(settings))
    checks.append(_poll_check(settings))
    return checks


REGISTER = "`python -m integration zoho webhook register --url https://<host>/webhooks/zoho-desk`"


def _no_webhook_check(settings: Settings) -> Check:
    """Without our webhook, reconciliation polling is the service's only source of tickets."""
    interval = settings.clock_poll_interval_s
    if interval == 0:
        return Check(
            "failed",
            "webhook",
            "not registered, and reconciliation polling is off (CLOCK_POLL_INTERVAL_S=0): the "
            "service hears of no ticket at all; on Professional or Enterprise run "
            f"{REGISTER}, or set CLOCK_POLL_INTERVAL_S (e.g. 300) on an edition without webhooks",
        )
    return Check(
        "warn",
        "webhook",
        "not registered: tickets then come only from reconciliation polling, every "
        f"{interval} s (CLOCK_POLL_INTERVAL_S), so each change, a new ticket's too, is applied "
        f"up to {interval} s late (how a Free or Standard edition, without webhooks, is "
        f"served); on Professional or Enterprise run {REGISTER}",
    )


def _poll_check(settings: Settings) -> Check:
    interval = settings.clock_poll_interval_s
    if interval == 0:
        return Check(
            "warn",
            "reconciliation poll",
            "off (CLOCK_POLL_INTERVAL_S=0): a lost webhook delivery (Zoho documents no "
            "redelivery), or a change only to a field outside WEBHOOK_UPDATE_FIELDS, is never "
            "seen",
        )
    return Check(
        "ok",
        "reconciliation poll",
        f"every {interval} s (CLOCK_POLL_INTERVAL_S), by the clock (`run` with CLOCK_ENABLED, "
        "or the `clock` process): tickets modified since its cursor, less "
        f"{settings.clock_poll_overlap_s} s, go through the same pipeline as a webhook, so a "
        "lost delivery or a change outside the webhook's fields "
        f"({settings.webhook_update_fields}) is applied within one interval",
    )


def _integration_agent_check(desk: Any, me: dict[str, Any]) -> Check:
    """A Self Client token acts as the person who generated it. If that person also works
    tickets, their own changes carry our agent id: warn, and recommend a dedicated agent."""
    name = "integration agent"
    who = f"{me.get('name')!r} (id {me.get('id')})"
    try:
        assigned = desk.tickets_assigned_to(str(me.get("id")), limit=1)
    except Exception as exc:
        return Check("warn", name, f"could not list the tickets assigned to {who}: {exc}")
    if assigned:
        return Check(
            "warn",
            name,
            f"the token acts as {who}, who is assigned tickets: that person's own edits look "
            "like the service's; generate the Self Client token as a dedicated integration agent "
            "(a Zoho Desk agent used only by this service, README: Setting up Zoho Desk)",
        )
    return Check("ok", name, f"{who} is assigned no tickets")


def _picklist_checks(fields: list[dict[str, Any]], policy: Any) -> list[Check]:
    """Every value we write to a picklist must exist in it, or Zoho refuses the whole PATCH
    (422 INVALID_DATA): the policy's priorities (a default portal has no Urgent) and every SLA
    status in the status field."""
    from ..rules import STATUSES
    from ..zoho.client import picklist_values

    labels = {f.get("apiName"): f.get("displayLabel") or f.get("apiName") for f in fields}
    wanted = {
        "priority": [p.zoho_value for p in policy.priorities.values()],
        policy.fields.status: list(STATUSES),
    }
    checks = []
    for api_name, values in wanted.items():
        needed = list(dict.fromkeys(values))
        allowed = picklist_values(fields, api_name)
        if allowed is None:
            if api_name in labels:  # listed, but without its values
                detail = "values not listed by Zoho: check them by hand"
                checks.append(Check("warn", f"picklist {api_name}", detail))
            elif api_name == "priority":
                checks.append(Check("warn", "picklist priority", "the field is not listed"))
            continue  # a missing custom field is reported by the field checks
        missing = [v for v in needed if v not in allowed]
        if missing:
            place = f"{PICKLIST_SETUP} > {labels.get(api_name) or api_name}"
            checks.append(
                Check(
                    "failed",
                    f"picklist {api_name}",
                    f"missing {', '.join(missing)}: add {'it' if len(missing) == 1 else 'them'} "
                    f"in {place} (Zoho refuses a value outside the picklist)",
                )
            )
        else:
            checks.append(Check("ok", f"picklist {api_name}", "has " + ", ".join(needed)))
    return checks


CHECK_CONNECT_TIMEOUT_S = 3.0
CHECK_READ_TIMEOUT_S = 10.0


def for_a_check(settings: Settings) -> Settings:
    """A check asks each thing once: no retries, short timeouts (an answer in seconds, not the
    minutes the worker's patience would take when Zoho is down)."""
    return settings.replace(
        zoho_max_retries=0,
        zoho_timeout_connect_s=min(settings.zoho_timeout_connect_s, CHECK_CONNECT_TIMEOUT_S),
        zoho_timeout_read_s=min(settings.zoho_timeout_read_s, CHECK_READ_TIMEOUT_S),
    )


@zoho.command("views")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def views_command(ctx: click.Context, as_json: bool) -> None:
    """The Zoho Desk views support leads work from (SLA vencido, SLA en riesgo, Vence hoy,
    Esperando proveedor, ETA pendiente, Pausados): the criteria on this service's fields and
    the sort order of each, to create in Zoho Desk."""
    from ..rules import PolicyError, load_policy
    from ..zoho.views import render, views

    settings = settings_of(ctx)
    try:
        policy = load_policy(settings.sla_policy_file or None)
    except PolicyError as exc:
        raise UserError(f"policy: {exc}") from None
    if not as_json:
        click.echo(render(policy), nl=False)
        return
    shown = [
        {
            "name": v.name,
            "english": v.english,
            "purpose": v.purpose,
            "criteria": [
                {"field": c.field, "operator": c.operator, "value": c.value} for c in v.criteria
            ],
            "sort": {"field": v.sort_field, "order": v.sort_order, "why": v.sort_why},
        }
        for v in views(policy)
    ]
    click.echo(json.dumps({"views": shown}, ensure_ascii=False))


@zoho.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Credentials, token, org, scopes, custom fields, statuses, webhook: a checklist."""
    from ..rules import load_policy

    settings = settings_of(ctx)
    policy = load_policy(settings.sla_policy_file or None)
    if not settings.zoho_configured:
        checks = run_checks(settings, None, policy)
    else:
        container, desk = _client(ctx, for_a_check(settings))
        try:
            checks = run_checks(settings, desk, policy, container.clock())
        finally:
            container.dispose()
    click.echo(
        f"Zoho Desk check (data centre {settings.zoho_dc}, org {settings.zoho_org_id or '-'})"
    )
    for item in checks:
        click.echo(item.line())
    if any(c.state in {"missing", "failed"} for c in checks):
        ctx.exit(1)


def webhook_body(settings: Settings, url: str) -> dict[str, Any]:
    """Our subscription: ticket adds, updates of SLA fields only (never the fields we write, so our
    own PATCH does not echo back), outgoing threads (first response), deletes."""
    if settings.webhook_auth in {"token", "jwt+token"}:
        if not settings.webhook_token:
            raise UserError("WEBHOOK_AUTH uses a token but WEBHOOK_TOKEN is empty")
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}token={settings.webhook_token.reveal()}"
    fields = [f.strip() for f in settings.webhook_update_fields.split(",") if f.strip()]
    if len(fields) > 5:
        raise UserError("WEBHOOK_UPDATE_FIELDS: Zoho accepts at most 5 fields")
    body: dict[str, Any] = {
        "name": WEBHOOK_NAME,
        "description": "Ignus SLA service: deadlines and SLA status on tickets",
        "url": url,
        "isEnabled": True,
        "subscriptions": {
            "Ticket_Add": None,
            "Ticket_Update": {"includePrevState": True, "fields": fields},
            "Ticket_Thread_Add": {"direction": "out"},
            "Ticket_Delete": None,
        },
    }
    if settings.zoho_source_id:
        body["ignoreSourceId"] = settings.zoho_source_id
    return body


@zoho.group("webhook")
def webhook() -> None:
    """Our Zoho Desk webhook subscription."""


@webhook.command("register")
@click.option("--url", required=True, help="public URL of POST /webhooks/zoho-desk")
@click.pass_context
def register(ctx: click.Context, url: str) -> None:
    """Create or update our subscription (idempotent).

    Zoho takes a URL of up to 500 characters on create but only 100 on update: an existing
    webhook whose new URL is longer than 100 is deleted and created again (a new id)."""
    if not url.startswith(("https://", "http://")):
        raise UserError(f'--url: "{url}" is not an http(s) URL')
    body = webhook_body(settings_of(ctx), url)
    if len(body["url"]) > WEBHOOK_URL_MAX_ON_CREATE:
        raise UserError(
            f"--url: Zoho stores a webhook URL of at most {WEBHOOK_URL_MAX_ON_CREATE} characters; "
            f"this one has {len(body['url'])} (with the token, if any)"
        )
    from ..zoho import ZohoError

    container, desk = _client(ctx)
    old_id = ""
    try:
        existing = [w for w in desk.list_webhooks() if w.get("name") == WEBHOOK_NAME]
        if existing and len(body["url"]) > WEBHOOK_URL_MAX_ON_UPDATE:
            old_id = str(existing[0]["id"])
            desk.delete_webhook(old_id)
            try:
                result = desk.create_webhook(body)
            except ZohoError as exc:
                raise UserError(
                    f"webhook {old_id} was deleted to change its URL, but creating it again "
                    f"failed ({exc}): run the command again"
                ) from None
            action = "recreated"
        elif existing:
            result = desk.update_webhook(str(existing[0]["id"]), body)
            action = "updated"
        else:
            result = desk.create_webhook(body)
            action = "created"
    finally:
        container.dispose()
    new_id = result.get("id")
    if action == "recreated":
        click.echo(
            f"webhook recreated: id {new_id} (Zoho updates a URL of at most "
            f"{WEBHOOK_URL_MAX_ON_UPDATE} characters, so webhook {old_id} was deleted and "
            "created again)"
        )
        click.echo(
            f"ZOHO_WEBHOOK_ID must be updated: set ZOHO_WEBHOOK_ID={new_id} (deliveries' JWT "
            f"audience is now webhookId:{new_id}; JWT checks fail until it is set)"
        )
        return
    click.echo(f"webhook {action}: id {new_id}")
    click.echo(f"set ZOHO_WEBHOOK_ID={new_id} so deliveries' JWT audience is checked")


@webhook.command("list")
@click.pass_context
def list_webhooks(ctx: click.Context) -> None:
    """Every webhook of the portal (ours is named ignus-sla-service)."""
    container, desk = _client(ctx)
    try:
        hooks = desk.list_webhooks()
    finally:
        container.dispose()
    for hook in hooks:
        url = str(hook.get("url", "")).split("?token=")[0]
        events = ", ".join(hook.get("subscriptions") or {})
        click.echo(f"{hook.get('id')}  {hook.get('name')}  {url}  [{events}]")
    if not hooks:
        click.echo("no webhooks")


@webhook.command("delete")
@click.option("--id", "webhook_id", help="webhook id (default: ours, by name)")
@click.pass_context
def delete_webhook(ctx: click.Context, webhook_id: str | None) -> None:
    """Delete our subscription (or the one given)."""
    container, desk = _client(ctx)
    try:
        if webhook_id is None:
            ours = [w for w in desk.list_webhooks() if w.get("name") == WEBHOOK_NAME]
            if not ours:
                raise UserError("no webhook named ignus-sla-service")
            webhook_id = str(ours[0]["id"])
        desk.delete_webhook(webhook_id)
    finally:
        container.dispose()
    click.echo(f"webhook {webhook_id} deleted")


FAKE_WEBHOOK_TOKEN = "fake-zoho-demo"


@cli.command("fake-zoho")
@click.option("--port", type=int, default=8900, show_default=True, help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--seed",
    "seed",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="a folder of saved deliveries (*.json): their tickets exist in the fake from the start",
)
def fake_zoho(port: int, host: str, seed: Path | None) -> None:
    """Serve a fake Zoho Desk (tests, benchmarks, demos).

    Prints, as `export` lines, the settings that point the service at it (paste them into the
    shell that runs the service and the CLI; the whole output can be sourced). Webhooks then
    use the shared-secret mode, so `zoho check` passes without registering one."""
    from ..zoho.fake_server import FakeZohoServer, seed_tickets

    try:
        server = FakeZohoServer(port=port, host=host)
    except OSError as exc:
        raise UserError(f"--port: cannot listen on {host}:{port} ({exc.strerror})") from None
    desk = server.desk
    seeded: list[str] = []
    if seed is not None:
        try:
            seeded = seed_tickets(desk, seed)
        except ValueError as exc:
            raise UserError(f"--seed: {exc}") from None
    settings = {
        "ZOHO_DESK_BASE_URL": server.url,
        "ZOHO_ACCOUNTS_URL": server.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "WEBHOOK_AUTH": "token",
        "WEBHOOK_TOKEN": FAKE_WEBHOOK_TOKEN,
    }
    click.echo(f"# fake Zoho Desk on {server.url}; point the service at it with:")
    for key, value in settings.items():
        click.echo(f"export {key}={shlex.quote(value)}")
    if seed is not None:
        click.echo(f"# seeded {len(seeded)} ticket(s) from {seed}: {', '.join(seeded) or '-'}")
    click.echo(json.dumps({"url": server.url}), err=True)
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
