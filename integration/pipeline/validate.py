"""What ingest accepts of one event: every field the worker reads is checked here, so that an event
stored as `pending` can never fail in the worker for a reason that retrying cannot fix.

Per event, never per delivery: Zoho documents no redelivery, so one bad event must not cost the
good ones beside it. An event that fails a check is stored anyway, as `quarantined`, with the
problems named (`inbox status` lists them); the worker never claims it.

Decisions, field by field (`payload` and, when present, `prevState`):

- refused (quarantined, naming the field), because the worker gives them a meaning:
  - `eventType`: non-empty text; `payload` (and `prevState`, `cf`, a thread's `author`): JSON
    objects; nothing nested deeper than `MAX_DEPTH`;
  - the ticket id (`payload.id`, a thread's `payload.ticketId`): an ASCII id of at most 32
    characters (letters, digits, `_`, `-`): it is the key of every table and part of Zoho URLs;
  - times when present and not null/"": `modifiedTime`, `createdTime`, `onholdTime`, `closedTime`,
    the ETA custom field, a thread's `createdTime`: ISO-8601 or epoch, 1970-2200
    (`observe.parse_zoho_time`);
  - `orgId`, `status`, `statusType`, `priority`, `departmentId`, `accountId`, `modifiedBy`,
    `ticketNumber`, the quote-status custom field, a thread's `direction`, `visibility`, `status`
    and `author.type`: text (or an integer), without NUL or lone surrogates (PostgreSQL cannot
    store NUL; UTF-8 cannot encode a lone surrogate; and "Open\\0" is not the status "Open").
- cleaned (kept, made storable): every other string and key (subject, description, names, other
  custom fields...): NUL and lone surrogates become U+FFFD. `payload.cf: null` becomes `{}` (every
  reader treats both alike; merging write-back fields into a null `cf` would fail).
- event types the worker does not handle (stored as `ignored`) are checked for their shape only.
- live mode (Zoho credentials set): the worker reads only the event type and the ticket id of the
  body and fetches Zoho's own state, so only those (and the shape) are refused there; the
  payload's other fields are cleaned. A field Zoho formats unexpectedly must not stop a live
  service whose truth is the fetched ticket (`check_event`, `payload_is_history`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..rules.policy import FieldNames
from .observe import parse_zoho_time

HANDLED_EVENTS = ("Ticket_Add", "Ticket_Update", "Ticket_Thread_Add", "Ticket_Delete")
THREAD_EVENTS = ("Ticket_Thread_Add",)

MAX_DEPTH = 32  # JSON objects/arrays inside one event; Zoho's go 3 or 4 deep
TOO_DEEP = "(nested too deep: removed)"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNLABEL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # also what would garble a terminal
_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")
_TIME_FIELDS = ("modifiedTime", "createdTime", "onholdTime", "closedTime")
_TEXT_FIELDS = (
    "orgId",
    "status",
    "statusType",
    "priority",
    "departmentId",
    "accountId",
    "modifiedBy",
    "ticketNumber",
)
_ETA_MAX = 40  # the observation log's column


def unstorable(text: str) -> bool:
    """Whether `text` holds a NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def clean_text(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def label(value: object, size: int) -> str:
    """A storable label for a quarantined event's column (type, ticket, org): text or an integer
    with control characters and lone surrogates removed, cut to the column's size; "" for
    anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return _UNLABEL.sub("", str(value)).strip()[:size]


def escaped_json(value: Any) -> str:
    """ASCII JSON (NUL and surrogates become `\\u` escapes): storable whatever `value` holds."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def prune(value: Any, depth: int = 1) -> tuple[Any, bool]:
    """A copy of a parsed JSON value with whatever lies deeper than MAX_DEPTH replaced by a note,
    and whether anything was. Recursion stops at MAX_DEPTH, so the copy can always be serialised
    (a JSON text near the parser's own limit may not be, a few stack frames deeper)."""
    if not isinstance(value, (dict, list)):
        return value, False
    if depth > MAX_DEPTH:
        return TOO_DEEP, True
    deep = False
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            copy[key], cut = prune(item, depth + 1)
            deep = deep or cut
        return copy, deep
    items = []
    for item in value:
        pruned, cut = prune(item, depth + 1)
        items.append(pruned)
        deep = deep or cut
    return items, deep


def clean(value: Any) -> Any:
    """A copy with every string and key made storable (see `clean_text`). Call on pruned values."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


class _Checks:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, problem: str) -> None:
        self.problems.append(problem)

    def text(self, name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail(f"{name} is not text")
        elif isinstance(value, str) and unstorable(value):
            self.fail(f"{name} contains NUL or a lone surrogate")

    def time(self, name: str, value: object, *, max_length: int = 64) -> None:
        if value is None or value == "":
            return
        if parse_zoho_time(value) is None or len(str(value)) > max_length:
            self.fail(f"{name} is not a time")

    def ident(self, key: str, value: object) -> None:
        name = f"payload.{key}"
        if value is None or value == "":
            self.fail(f"payload has no {key}")
        elif (
            isinstance(value, bool)
            or not isinstance(value, (str, int))
            or not _ID.fullmatch(str(value))
        ):
            self.fail(f"{name} is not an id (1-32 ASCII letters, digits, _ or -)")

    def mapping(self, name: str, value: object) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"{name} is not a JSON object")
            return {}
        return value

    def ticket(self, name: str, ticket: Mapping[str, Any], fields: FieldNames) -> None:
        """What `observe`, `Ledger.start_tracking` and the worker read of a ticket object."""
        for key in _TIME_FIELDS:
            self.time(f"{name}.{key}", ticket.get(key))
        for key in _TEXT_FIELDS:
            self.text(f"{name}.{key}", ticket.get(key))
        custom = self.mapping(f"{name}.cf", ticket.get("cf"))
        self.time(f"{name}.cf.{fields.eta}", custom.get(fields.eta), max_length=_ETA_MAX)
        self.text(f"{name}.cf.{fields.quote_status}", custom.get(fields.quote_status))

    def thread(self, name: str, thread: Mapping[str, Any]) -> None:
        """What `observe.first_agent_response` reads of a thread."""
        self.time(f"{name}.createdTime", thread.get("createdTime"))
        for key in ("direction", "visibility", "status"):
            self.text(f"{name}.{key}", thread.get(key))
        author = self.mapping(f"{name}.author", thread.get("author"))
        self.text(f"{name}.author.type", author.get("type"))


def check_event(
    item: Mapping[str, Any], fields: FieldNames, *, payload_is_history: bool = True
) -> list[str]:
    """The problems of one event object (already pruned: see `prune`); [] when it may be stored
    for the worker.

    `payload_is_history`: whether the worker will read the payload's fields (dry-run: the payload
    and `prevState` are the ticket's history). In live mode it reads only the event type and the
    ticket id (Zoho's own state is fetched; the JWT does not cover the body), so the other fields
    are only cleaned: a field Zoho formats unexpectedly must not stop a live service."""
    checks = _Checks()
    event_type = item.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        checks.fail("missing eventType")
    elif unstorable(event_type):
        checks.fail("eventType contains NUL or a lone surrogate")
    payload = item.get("payload")
    if not isinstance(payload, dict):
        checks.fail("missing payload (a JSON object)")
    prev = item.get("prevState")
    if prev is not None and not isinstance(prev, dict):
        checks.fail("prevState must be a JSON object")
    checks.text("orgId", item.get("orgId"))
    if checks.problems or not isinstance(event_type, str) or not isinstance(payload, dict):
        return checks.problems
    kind = event_type.strip()
    if kind not in HANDLED_EVENTS:
        return checks.problems
    thread = kind in THREAD_EVENTS
    checks.ident("ticketId" if thread else "id", payload.get("ticketId" if thread else "id"))
    if not payload_is_history or kind == "Ticket_Delete":
        return checks.problems
    if thread:
        checks.thread("payload", payload)
    else:
        checks.ticket("payload", payload, fields)
    if isinstance(prev, dict):
        checks.ticket("prevState", prev, fields)
    return checks.problems
