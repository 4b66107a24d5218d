"""An in-memory Zoho Desk: the state behind both the in-memory `FakeDeskClient` and the fake HTTP
server (`fake_server.py`), so the two cannot disagree about what Zoho holds.

It keeps tickets, threads, comments, tags, webhooks, ticket fields and the OAuth side (issued
tokens, token calls), and records faults to inject. It is for tests, benchmarks and demos.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..rules.status import STATUSES
from .client import (
    SEARCH_LIMIT_MAX,
    SEARCH_MAX_OFFSET,
    CreatedTickets,
    ModifiedTickets,
    picklist_values,
    statuses_from_fields,
    zoho_time,
)
from .errors import FieldError, InvalidData, NotFound

HUMAN_AGENT_ID = "432100000000056007"  # a person working in Zoho's UI, not our API user
DEFAULT_STATUSES = [
    {"value": "Open", "statusType": "Open"},
    {"value": "On Hold", "statusType": "On Hold"},
    {"value": "Waiting on customer", "statusType": "On Hold"},
    {"value": "Waiting on third party", "statusType": "On Hold"},
    {"value": "Awaiting quote approval", "statusType": "On Hold"},
    {"value": "Escalated", "statusType": "Open"},
    {"value": "Closed", "statusType": "Closed"},
]
# A portal set up as the README says: Urgent added to Zoho's default High, Medium, Low. Zoho's own
# default (no Urgent) is FakeDesk(priorities=ZOHO_DEFAULT_PRIORITIES).
DEFAULT_PRIORITIES = ("Urgent", "High", "Medium", "Low")
ZOHO_DEFAULT_PRIORITIES = ("-None-", "High", "Medium", "Low")
QUOTE_STATUSES = ("Pendiente", "Enviada", "Autorizada", "Rechazada")
SLA_CUSTOM_FIELDS = [
    {"apiName": "cf_sla_response_due", "displayLabel": "SLA Response Due", "type": "DateTime"},
    {"apiName": "cf_sla_resolution_target", "displayLabel": "SLA Resolution Target",
     "type": "DateTime"},
    {"apiName": "cf_sla_resolution_due", "displayLabel": "SLA Resolution Due", "type": "DateTime"},
    {"apiName": "cf_sla_status", "displayLabel": "SLA Status", "type": "Picklist",
     "allowedValues": [{"value": s} for s in STATUSES]},
    {"apiName": "cf_sla_rule", "displayLabel": "SLA Rule", "type": "Text"},
    {"apiName": "cf_eta", "displayLabel": "ETA", "type": "DateTime"},
    {"apiName": "cf_quote_status", "displayLabel": "Quote status", "type": "Picklist",
     "allowedValues": [{"value": s} for s in QUOTE_STATUSES]},
]  # fmt: skip
WEBHOOK_URL_MAX_ON_CREATE = 500  # Zoho's schema: up to 500 characters on create ...
WEBHOOK_URL_MAX_ON_UPDATE = 100  # ... but only 100 on update (PATCH)


@dataclass
class Fault:
    """An answer to give instead of the real one, `times` times, for matching requests."""

    status: int = 503
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    times: int = 1
    method: str = ""  # "" = any
    path_prefix: str = ""  # "" = any API path
    applied: bool = False  # the request takes effect, then the fault is the answer Zoho gives
    skip: int = 0  # matching requests answered normally first (a failure halfway through a walk)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: datetime
    has_source_id: bool = False


class FakeDesk:
    """The whole fake portal. Every public method is thread-safe."""

    def __init__(
        self,
        org_id: str = "60001234567",
        *,
        client_id: str = "fake-client",
        client_secret: str = "fake-secret",
        refresh_token: str = "fake-refresh",
        token_lifetime_s: int = 3600,
        agent_id: str = "432100000000099001",
        priorities: Sequence[str] = DEFAULT_PRIORITIES,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.org_id = org_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.token_lifetime_s = token_lifetime_s
        self.refresh_revoked = False
        self.agent = {
            "id": agent_id,
            "name": "SLA Service",
            "emailId": "sla@ignus.example",
            "zuid": "80001",
        }
        self.tickets: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, list[dict[str, Any]]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, list[str]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.views: list[dict[str, Any]] = [
            {"id": "1", "name": "All Tickets", "isCustomView": False},
            {"id": "2", "name": "My Open Tickets", "isCustomView": False},
        ]
        self.custom_fields = copy.deepcopy(SLA_CUSTOM_FIELDS)
        self.status_values = copy.deepcopy(DEFAULT_STATUSES)
        self.priority_values = list(priorities)  # the `priority` picklist
        self.tokens: dict[str, datetime] = {}
        self.token_calls = 0
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.credits_remaining = 75_000
        self.latency_s = 0.0  # added to every API answer (benchmarks: Zoho's round trip)
        self.search_max_offset = SEARCH_MAX_OFFSET  # `from` above it is refused, as Zoho does
        self._ids = itertools.count(432100000012345001)
        self._lock = threading.RLock()

    # ---- helpers for tests ------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def next_id(self) -> str:
        return str(next(self._ids))

    def create_ticket(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            now = zoho_time(self.now())
            ticket_id = str(fields.pop("id", None) or self.next_id())
            ticket: dict[str, Any] = {
                "id": ticket_id,
                "ticketNumber": str(len(self.tickets) + 1001),
                "subject": "",
                "description": "",
                "status": "Open",
                "statusType": "Open",
                "priority": None,
                "category": None,
                "subCategory": None,
                "classification": None,
                "channel": "Email",
                "departmentId": "432100000000006907",
                "accountId": None,
                "contactId": "432100000001000001",
                "assigneeId": None,
                "createdTime": now,
                "modifiedTime": now,
                "modifiedBy": HUMAN_AGENT_ID,
                "onholdTime": None,
                "closedTime": None,
                "dueDate": None,
                "responseDueDate": None,
                "cf": {f["apiName"]: None for f in self.custom_fields},
            }
            cf = fields.pop("cf", {})
            ticket.update(fields)
            ticket["cf"].update(cf)
            self.tickets[ticket_id] = ticket
            self.threads[ticket_id] = []
            self.comments[ticket_id] = []
            self.tags[ticket_id] = []
            return copy.deepcopy(ticket)

    def add_thread(self, ticket_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._ticket(ticket_id)
            thread = {
                "id": self.next_id(),
                "ticketId": ticket_id,
                "channel": "EMAIL",
                "direction": "out",
                "visibility": "public",
                "status": "SUCCESS",
                "isDescriptionThread": False,
                "author": {"id": self.agent["id"], "name": "Agent", "type": "AGENT"},
                "createdTime": zoho_time(self.now()),
            }
            thread.update(fields)
            self.threads[ticket_id].append(thread)
            return copy.deepcopy(thread)

    def agent_edit(self, ticket_id: str, fields: dict[str, Any], agent_id: str = "") -> None:
        """A person changes the ticket in Zoho's UI (modifiedBy is that agent, not our API user)."""
        with self._lock:
            self.update_ticket(ticket_id, fields)
            self.tickets[ticket_id]["modifiedBy"] = agent_id or HUMAN_AGENT_ID

    def delete_ticket(self, ticket_id: str) -> None:
        """A person deletes the ticket in Zoho's UI (the API then answers 404 for it)."""
        with self._lock:
            self._ticket(ticket_id)
            del self.tickets[ticket_id]

    def set_picklist(self, api_name: str, values: Sequence[str]) -> None:
        """An admin edits a picklist: `priority` or a custom picklist field (`cf_...`)."""
        with self._lock:
            if api_name == "priority":
                self.priority_values = list(values)
                return
            for custom in self.custom_fields:
                if custom["apiName"] == api_name:
                    custom["allowedValues"] = [{"value": v} for v in values]
                    return
            raise KeyError(api_name)

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = {token: self.now() - timedelta(seconds=1) for token in self.tokens}

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                if fault.path_prefix and not path.startswith(fault.path_prefix):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
            return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def writes(
        self, method: str = "PATCH", path_prefix: str = "/api/v1/tickets/"
    ) -> list[RecordedRequest]:
        with self._lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    # ---- OAuth ------------------------------------------------------------------------------

    def mint_token(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's answer (Zoho answers errors with HTTP 200 and an `error` key)."""
        with self._lock:
            self.token_calls += 1
            if form.get("client_id") != self.client_id or (
                form.get("client_secret") != self.client_secret
            ):
                return {"error": "invalid_client"}
            if form.get("grant_type") != "refresh_token":
                return {"error": "unsupported_grant_type"}
            if self.refresh_revoked or form.get("refresh_token") != self.refresh_token:
                return {"error": "invalid_code"}
            token = f"1000.fake{self.token_calls:04d}.{int(time.time() * 1000)}"
            self.tokens[token] = self.now() + timedelta(seconds=self.token_lifetime_s)
            return {
                "access_token": token,
                "expires_in": self.token_lifetime_s,
                "api_domain": "https://www.zohoapis.com",
                "token_type": "Bearer",
            }

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self.tokens.get(token)
            return expiry is not None and expiry > self.now()

    # ---- the API ----------------------------------------------------------------------------

    def _ticket(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound(404, "URL_NOT_FOUND", f"ticket {ticket_id} not found")
        return ticket

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._ticket(ticket_id))

    def _refused_fields(self, fields: dict[str, Any]) -> list[FieldError]:
        """Zoho validates the whole PATCH before applying any of it: unknown or read-only
        fields, and values outside a picklist (status, priority, custom picklists)."""
        known_cf = {f["apiName"] for f in self.custom_fields}
        errors = [
            FieldError(f"/{name}", "invalid", "not a writable field")
            for name in fields.get("cf") or {}
            if name not in known_cf
        ]
        if fields.get("responseDueDate") is not None:
            errors.append(FieldError("/responseDueDate", "invalid", "not a writable field"))
        if "status" in fields and not any(
            s["value"].lower() == str(fields["status"]).lower() for s in self.status_values
        ):
            errors.append(FieldError("/status", "invalid", "not a value of the picklist"))
        picklists = {"priority": self.priority_values}
        values = {"priority": fields.get("priority")}
        for custom in self.custom_fields:
            name = custom["apiName"]
            allowed = picklist_values([custom], name)
            if allowed is not None and name in (fields.get("cf") or {}):
                picklists[name] = allowed
                values[name] = fields["cf"][name]
        for name, value in values.items():
            if value is not None and value not in picklists[name]:
                errors.append(FieldError(f"/{name}", "invalid", "not a value of the picklist"))
        return errors

    def update_ticket(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            ticket = self._ticket(ticket_id)
            refused = self._refused_fields(fields)
            if refused:
                raise InvalidData(
                    422,
                    "INVALID_DATA",
                    "The data does not comply to the validation restrictions defined.",
                    refused,
                )
            previous = copy.deepcopy(ticket)
            for key, value in fields.items():
                if key == "cf":
                    ticket["cf"].update(value)
                elif key == "status":
                    ticket["status"] = value
                    ticket["statusType"] = self._status_type(value)
                    if ticket["statusType"] == "On Hold" and previous["statusType"] != "On Hold":
                        ticket["onholdTime"] = zoho_time(self.now())
                    if ticket["statusType"] == "Closed" and previous["statusType"] != "Closed":
                        ticket["closedTime"] = zoho_time(self.now())
                    elif ticket["statusType"] != "Closed":
                        ticket["closedTime"] = None
                else:
                    ticket[key] = value
            ticket["modifiedTime"] = zoho_time(self.now())
            ticket["modifiedBy"] = self.agent["id"]
            return copy.deepcopy(ticket)

    def _status_type(self, status: str) -> str:
        for value in self.status_values:
            if value["value"].lower() == str(status).lower():
                return value["statusType"]
        raise InvalidData(422, "INVALID_DATA", f"unknown status {status}")

    def add_comment(self, ticket_id: str, content: str, *, public: bool = False) -> dict[str, Any]:
        with self._lock:
            self._ticket(ticket_id)
            comment = {
                "id": self.next_id(),
                "ticketId": ticket_id,
                "content": content,
                "contentType": "plainText",
                "isPublic": public,
                "commentedTime": zoho_time(self.now()),
                "commenterId": self.agent["id"],
            }
            self.comments[ticket_id].append(comment)
            return copy.deepcopy(comment)

    def list_comments(self, ticket_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._ticket(ticket_id)
            return copy.deepcopy(self.comments[ticket_id])

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        with self._lock:
            self._ticket(ticket_id)
            for tag in tags:
                if tag not in self.tags[ticket_id]:
                    self.tags[ticket_id].append(tag)

    def list_threads(self, ticket_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._ticket(ticket_id)
            return copy.deepcopy(sorted(self.threads[ticket_id], key=lambda t: t["createdTime"]))

    def search(
        self,
        *,
        modified: tuple[datetime, datetime] | None = None,
        created: tuple[datetime, datetime] | None = None,
        sort_by: str = "modifiedTime",
        offset: int = 0,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """`GET /tickets/search`: both ranges inclusive, at millisecond precision; `limit` 1-100
        and `from` up to `search_max_offset`, or 422 naming the parameter."""
        refused = []
        if not 1 <= limit <= SEARCH_LIMIT_MAX:
            refused.append(FieldError("/limit", "invalid", f"must be 1-{SEARCH_LIMIT_MAX}"))
        if not 0 <= offset <= self.search_max_offset:
            refused.append(FieldError("/from", "invalid", f"must be 0-{self.search_max_offset}"))
        key = sort_by.removeprefix("-")
        if key not in ("modifiedTime", "createdTime"):
            refused.append(FieldError("/sortBy", "invalid", "not supported by the fake"))
        if refused:
            raise InvalidData(
                422,
                "INVALID_DATA",
                "The data does not comply to the validation restrictions defined.",
                refused,
            )
        ranges = [
            (field, zoho_time(bounds[0]), zoho_time(bounds[1]))
            for field, bounds in (("modifiedTime", modified), ("createdTime", created))
            if bounds is not None
        ]
        with self._lock:
            found = sorted(
                (
                    t
                    for t in self.tickets.values()
                    if all(low <= t[field] <= high for field, low, high in ranges)
                ),
                key=lambda t: (t[key], t["id"]),
                reverse=sort_by.startswith("-"),
            )
            return copy.deepcopy(found[offset : offset + limit])

    def search_modified(
        self, since: datetime, until: datetime, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        return self.search(modified=(since, until), offset=offset, limit=limit)

    def search_modified_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> ModifiedTickets:
        return ModifiedTickets(
            self.search, since, until, page_size=page_size, max_offset=self.search_max_offset
        )

    def search_created_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> CreatedTickets:
        return CreatedTickets(
            self.search, since, until, page_size=page_size, max_offset=self.search_max_offset
        )

    def ticket_fields(self) -> list[dict[str, Any]]:
        with self._lock:
            status = {
                "apiName": "status",
                "displayLabel": "Status",
                "type": "Picklist",
                "isCustomField": False,
                "allowedValues": copy.deepcopy(self.status_values),
            }
            priority = {
                "apiName": "priority",
                "displayLabel": "Priority",
                "type": "Picklist",
                "isCustomField": False,
                "allowedValues": [{"value": v} for v in self.priority_values],
            }
            custom = [{**f, "isCustomField": True} for f in copy.deepcopy(self.custom_fields)]
            return [status, priority, *custom]

    def statuses(self) -> list[dict[str, str]]:
        return statuses_from_fields(self.ticket_fields())

    def myinfo(self) -> dict[str, Any]:
        return dict(self.agent)

    def list_tickets(
        self, assignee: str = "", offset: int = 0, limit: int = 25
    ) -> list[dict[str, Any]]:
        """`GET /tickets`, oldest first; `assignee`: agent ids (comma-separated) or `Unassigned`,
        empty for every ticket."""
        wanted = {a.strip() for a in assignee.split(",") if a.strip()}
        with self._lock:
            found = [
                t
                for t in sorted(self.tickets.values(), key=lambda t: (t["createdTime"], t["id"]))
                if not wanted or (t["assigneeId"] or "Unassigned") in wanted
            ]
            return copy.deepcopy(found[offset : offset + limit])

    def tickets_assigned_to(self, agent_id: str, limit: int = 1) -> list[dict[str, Any]]:
        return self.list_tickets(agent_id, 0, limit)

    def list_webhooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self.webhooks.values()))

    def list_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.views)

    def add_view(self, name: str) -> dict[str, Any]:
        """A lead saves a custom view in Zoho's UI."""
        with self._lock:
            view = {"id": str(100 + len(self.views)), "name": name, "isCustomView": True}
            self.views.append(view)
            return copy.deepcopy(view)

    def _check_webhook(self, body: dict[str, Any], creating: bool) -> None:
        subscriptions = body.get("subscriptions")
        if creating and (not body.get("url") or not isinstance(subscriptions, dict)):
            raise InvalidData(422, "INVALID_DATA", "url and subscriptions are required")
        most = WEBHOOK_URL_MAX_ON_CREATE if creating else WEBHOOK_URL_MAX_ON_UPDATE
        if len(str(body.get("url") or "")) > most:
            raise InvalidData(
                422,
                "INVALID_DATA",
                "The data does not comply to the validation restrictions defined.",
                [FieldError("/url", "invalid", f"longer than {most} characters")],
            )
        for event in subscriptions or {}:
            if not event.startswith(("Ticket_", "Contact_", "Account_", "Agent_")):
                raise InvalidData(422, "INVALID_DATA", f"unknown event {event}")

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._check_webhook(body, creating=True)
            webhook_id = self.next_id()
            now = zoho_time(self.now())
            webhook = {
                "id": webhook_id,
                "type": "CUSTOMER_WEBHOOK",
                "isEnabled": True,
                "createdTime": now,
                "modifiedTime": now,
                "createdBy": self.agent["id"],
                **copy.deepcopy(body),
            }
            self.webhooks[webhook_id] = webhook
            return copy.deepcopy(webhook)

    def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if webhook_id not in self.webhooks:
                raise NotFound(404, "URL_NOT_FOUND", f"webhook {webhook_id} not found")
            self._check_webhook(body, creating=False)
            self.webhooks[webhook_id].update(copy.deepcopy(body))
            self.webhooks[webhook_id]["modifiedTime"] = zoho_time(self.now())
            return copy.deepcopy(self.webhooks[webhook_id])

    def delete_webhook(self, webhook_id: str) -> None:
        with self._lock:
            if self.webhooks.pop(webhook_id, None) is None:
                raise NotFound(404, "URL_NOT_FOUND", f"webhook {webhook_id} not found")


class FakeDeskClient:
    """DeskClient on a FakeDesk, without HTTP: the in-memory adapter."""

    def __init__(self, desk: FakeDesk) -> None:
        self.desk = desk

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.desk.get_ticket(ticket_id)

    def update_ticket(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.desk.update_ticket(ticket_id, copy.deepcopy(fields))

    def add_comment(self, ticket_id: str, content: str, *, public: bool = False) -> dict[str, Any]:
        return self.desk.add_comment(ticket_id, content, public=public)

    def list_comments(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.desk.list_comments(ticket_id)

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.desk.add_tags(ticket_id, list(tags))

    def list_threads(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.desk.list_threads(ticket_id)

    def search_modified_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> ModifiedTickets:
        return self.desk.search_modified_tickets(since, until, page_size=page_size)

    def search_created_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> CreatedTickets:
        return self.desk.search_created_tickets(since, until, page_size=page_size)

    def ticket_fields(self) -> list[dict[str, Any]]:
        return self.desk.ticket_fields()

    def statuses(self) -> list[dict[str, str]]:
        return self.desk.statuses()

    def myinfo(self) -> dict[str, Any]:
        return self.desk.myinfo()

    def tickets_assigned_to(self, agent_id: str, limit: int = 1) -> list[dict[str, Any]]:
        return self.desk.tickets_assigned_to(agent_id, limit)

    def list_webhooks(self) -> list[dict[str, Any]]:
        return self.desk.list_webhooks()

    def list_views(self) -> list[dict[str, Any]]:
        return self.desk.list_views()

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.desk.create_webhook(copy.deepcopy(body))

    def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.desk.update_webhook(webhook_id, copy.deepcopy(body))

    def delete_webhook(self, webhook_id: str) -> None:
        self.desk.delete_webhook(webhook_id)
