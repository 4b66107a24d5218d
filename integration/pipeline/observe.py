"""From what Zoho tells us to what the rules engine needs.

Each webhook payload, `prevState`, re-fetched ticket, polled ticket or PATCH answer is an
*observation*: the SLA-relevant fields at the ticket's `modifiedTime`. Deadlines are a function of
the sorted observation log (holds, agent priority changes, ETAs, vendor waits are read off it), so
events heard late, twice or out of order give the same deadlines as events heard at once.

Pure functions: no database, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..rules import EtaChange, Hold, Policy, PriorityChange, TicketHistory, VendorWait
from ..rules.text import normalize

CLOSED = "closed"
WRITE = "write"  # Zoho's answer to our own PATCH that set the priority it shows
ANSWER = "answer"  # Zoho's answer to our own PATCH that left the priority alone
OURS = (WRITE, ANSWER)
NO_PRIORITY = "-None-"  # Zoho's name for an empty priority picklist


def parse_zoho_time(value: object) -> datetime | None:
    """Zoho timestamps: ISO-8601 (`2026-11-27T18:30:00.000Z`) or epoch milliseconds (string or
    number, as deliveries' `eventTime` may be); an aware datetime passes through.

    Only instants from 1970-01-01 to 2200-12-31 (UTC, inclusive) are times: a year the business
    calendars (and Python's datetime arithmetic around time zones) can hold. Everything else is
    None, never an exception: None, bools, NaN and infinities, numbers or dates out of that range,
    digits that are not ASCII (`"²"`, `"١٢٣"`), text that is not ISO-8601, objects and arrays."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch_ms(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64 or not text.isascii():
            return None
        digits = text.removeprefix("-")
        if digits.isdigit():  # ASCII only (checked above): str.isdigit alone accepts "²"
            return _from_epoch_ms(int(text)) if len(digits) <= 20 else None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if not 1969 <= moment.year <= 2201:  # first: converting year 1 or 9999 to UTC overflows
        return None
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment if 1970 <= moment.astimezone(UTC).year <= 2200 else None


def _from_epoch_ms(value: float) -> datetime | None:
    """Epoch seconds, or milliseconds (Zoho's usual unit) when the number is too big to be
    seconds before 2201. None outside 1970-2200 (see `parse_zoho_time`), for NaN and infinities,
    and for ints too big for a float."""
    end = 7_289_654_400  # 2201-01-01T00:00:00Z in epoch seconds
    if not -1e20 < value < 1e20:  # also False for NaN; exact for ints of any size
        return None
    seconds = value / 1000 if abs(value) >= end else value
    if not 0 <= seconds < end:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def sub_mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`obj[key]` when it is a JSON object, else an empty one (Zoho sends null for many)."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _priority(ticket: Mapping[str, Any]) -> str:
    """The ticket's priority; NO_PRIORITY when Zoho says it has none, "" when not said (a
    partial prevState), so that an agent's first choice on an empty priority is still seen."""
    if "priority" not in ticket:
        return ""
    return _text(ticket.get("priority")) or NO_PRIORITY


@dataclass(frozen=True)
class Observation:
    modified_time: datetime
    source: str
    status: str = ""
    status_type: str = ""
    priority: str = ""
    onhold_time: datetime | None = None
    closed_time: datetime | None = None
    eta: str = ""
    quote_status: str = ""
    department_id: str = ""
    account_id: str = ""
    modified_by: str = ""


def observe(ticket: Mapping[str, Any], source: str, policy: Policy) -> Observation | None:
    """The observation a ticket object (or a `prevState`) carries; None without `modifiedTime`."""
    modified = parse_zoho_time(ticket.get("modifiedTime"))
    if modified is None:
        return None
    custom = sub_mapping(ticket, "cf")
    return Observation(
        modified_time=modified,
        source=source,
        status=_text(ticket.get("status")),
        status_type=_text(ticket.get("statusType")),
        priority=_priority(ticket),
        onhold_time=parse_zoho_time(ticket.get("onholdTime")),
        closed_time=parse_zoho_time(ticket.get("closedTime")),
        eta=_text(custom.get(policy.fields.eta)),
        quote_status=_text(custom.get(policy.fields.quote_status)),
        department_id=_text(ticket.get("departmentId")),
        account_id=_text(ticket.get("accountId")),
        modified_by=_text(ticket.get("modifiedBy")),
    )


def first_agent_response(threads: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The earliest public, sent, outgoing reply written by an agent."""
    found: list[datetime] = []
    for thread in threads:
        author = sub_mapping(thread, "author")
        if (
            thread.get("direction") == "out"
            and thread.get("visibility", "public") == "public"
            and thread.get("status", "SUCCESS") == "SUCCESS"
            and not thread.get("isDescriptionThread")
            and author.get("type", "AGENT") == "AGENT"
        ):
            created = parse_zoho_time(thread.get("createdTime"))
            if created is not None:
                found.append(created)
    return min(found) if found else None


def _stop_reason(policy: Policy, observation: Observation) -> str:
    """Why the clocks stand still in this state ("" when they run)."""
    if normalize(observation.status_type) == CLOSED:
        return CLOSED
    if policy.kinds.quote_pending(observation.status, observation.quote_status):
        return "quote pending"
    if policy.readings.pauses(observation.status, observation.status_type):
        return observation.status or observation.status_type
    return ""


@dataclass(frozen=True)
class Classified:
    """What the service decided when it first saw the ticket."""

    created: datetime
    priority: str
    kind: str
    vendor: str


def build_history(
    policy: Policy,
    classified: Classified,
    observations: Iterable[Observation],
    *,
    first_response_at: datetime | None,
) -> TicketHistory:
    """The rules engine's view of a ticket, read off its observation log.

    A priority change is an agent's unless the observation is the answer to our own PATCH that
    set that priority (`source == "write"`): who made a change is known from what we sent, never
    from the agent id alone, because the token's owner may also work tickets in Zoho's UI. A
    change from an empty priority (NO_PRIORITY) counts too: on a portal whose picklist refused
    ours, the agent's first choice is the ticket's priority."""
    ordered = sorted(observations, key=lambda o: o.modified_time)
    created = classified.created

    priorities = [PriorityChange(created, classified.priority)]
    last_seen = ""
    for obs in ordered:
        ours = obs.source == WRITE  # our PATCH set this priority
        if obs.priority and last_seen and obs.priority != last_seen and not ours:
            known = policy.find_priority(obs.priority)
            if known is not None and obs.modified_time > created:
                priorities.append(PriorityChange(obs.modified_time, known.key))
        last_seen = obs.priority or last_seen

    holds: list[Hold] = []
    closed_at: datetime | None = None
    stopped_since: datetime | None = None
    stop_reason = ""
    for obs in ordered:
        reason = _stop_reason(policy, obs)
        if reason and stopped_since is None:
            start = obs.modified_time
            if reason == CLOSED and obs.closed_time and obs.closed_time <= obs.modified_time:
                start = obs.closed_time
            elif obs.onhold_time and obs.onhold_time <= obs.modified_time:
                start = obs.onhold_time
            stopped_since, stop_reason = max(start, created), reason
        elif reason and reason != stop_reason and stopped_since is not None:
            # still stopped, for another reason: close one interval, open the next
            holds.append(Hold(stopped_since, obs.modified_time, stop_reason))
            stopped_since, stop_reason = obs.modified_time, reason
        elif not reason and stopped_since is not None:
            holds.append(Hold(stopped_since, obs.modified_time, stop_reason))
            stopped_since, stop_reason = None, ""
    if stopped_since is not None:
        if stop_reason == CLOSED:
            closed_at = stopped_since
        else:
            holds.append(Hold(stopped_since, None, stop_reason))

    etas: list[EtaChange] = []
    last_eta = ""
    for obs in ordered:
        if obs.eta != last_eta:
            etas.append(EtaChange(obs.modified_time, parse_zoho_time(obs.eta)))
            last_eta = obs.eta

    waits: list[VendorWait] = []
    if classified.kind == "third_party":
        since: datetime | None = None
        for obs in ordered:
            inside = policy.kinds.waits_on_vendor(obs.status)
            if inside and since is None:
                since = obs.onhold_time or obs.modified_time
            elif not inside and since is not None:
                waits.append(VendorWait(classified.vendor, since, obs.modified_time))
                since = None
        if since is not None:
            waits.append(VendorWait(classified.vendor, since))

    account = next((o.account_id for o in reversed(ordered) if o.account_id), "")
    return TicketHistory(
        created=created,
        priorities=tuple(priorities),
        holds=tuple(holds),
        kind=classified.kind,
        vendor=classified.vendor,
        first_response_at=first_response_at,
        closed_at=closed_at,
        etas=tuple(etas),
        vendor_waits=tuple(waits),
        account_id=account,
    )
