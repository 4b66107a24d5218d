"""Recompute open tickets under the current policy (after a policy change), saying what changes.

Every ticket records the revision of the policy it was computed with (`tickets.policy_version`:
the declared version and a digest of the content), and every revision a process ran with is kept
in `policy_versions`, so the differences between a ticket's revision and the current one can be
named per ticket: a day off added inside its window, its priority's target changed.

A recompute is the ledger's own (`Ledger.recompute`: the whole observation log, the outbox row,
the notices), run on each open ticket in its own transaction; a dry run rolls each back, so what it
prints is what a real run would do. Closed and deleted tickets are never touched.

New events and the clock's sweep already compute a ticket under the policy in force when they
touch it; `sla recompute` brings every open ticket over at once and says what changed, and with
`--dry-run --policy FILE` shows what a candidate policy would change before it is deployed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import DBAPIError

from .. import db
from ..models import OutboxWrite, PolicyVersion, TrackedTicket
from ..rules import Policy, PolicyError
from ..rules.policy import policy_from_source
from ..rules.policy_diff import PolicyDiff
from .fields import changed_fields, flat
from .ledger import Ledger

log = logging.getLogger(__name__)

# The ticket's columns a recompute may change, in the order they are shown.
SHOWN = ("priority", "response_due", "resolution_target", "resolution_due", "sla_status")


def record_policy(sessions: Any, policy: Policy, now: datetime) -> None:
    """Keep the text of the policy this process computes with (insert-or-ignore on its
    revision), so a later revision can say what changed."""
    with db.transaction(sessions) as session:
        insert = db.insert_for(session.get_bind().dialect.name)
        session.execute(
            insert(PolicyVersion)
            .values(
                version=policy.revision[:64],
                name=policy.name[:128],
                source=policy.source,
                recorded_at=now,
            )
            .on_conflict_do_nothing(index_elements=["version"])
        )


def open_tickets(revision: str | None = None) -> Any:
    """The tickets a recompute may touch: tracked, not deleted, not closed (optionally: computed
    with another revision than `revision`)."""
    query = select(TrackedTicket.ticket_id).where(
        TrackedTicket.deleted.is_(False),
        TrackedTicket.closed_at.is_(None),
        func.lower(TrackedTicket.zoho_status_type) != "closed",
    )
    if revision is not None:
        query = query.where(
            or_(TrackedTicket.policy_version != revision, TrackedTicket.policy_version == "")
        )
    return query


def announce_policy(container: Any) -> int | None:
    """At start-up: record the policy in force and log how many open tickets were computed with
    another revision (None when the database cannot be read now)."""
    policy = container.policy
    try:
        record_policy(container.sessions, policy, container.clock())
        with db.read_only(container.sessions)() as session:
            count = session.scalar(
                select(func.count()).select_from(open_tickets(policy.revision).subquery())
            )
    except DBAPIError as exc:
        log.warning("policy revision not recorded (%s)", db.describe_error(exc))
        return None
    if count:
        log.warning(
            "%d open ticket(s) were computed with another policy revision than %s: "
            "`python -m integration sla recompute --dry-run` shows what would change, "
            "`sla recompute` applies it (each is also recomputed when it next changes)",
            count,
            policy.revision,
            extra={"outdated_tickets": count, "policy_version": policy.revision},
        )
    else:
        log.info("policy %s: every open ticket is computed with it", policy.revision)
    return int(count or 0)


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: Any
    new: Any


@dataclass
class TicketRecompute:
    """What a recompute changed (or, in a dry run, would change) on one ticket."""

    ticket_id: str
    ticket_number: str
    old_version: str
    new_version: str
    changes: list[FieldChange] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)  # Zoho fields the write-back will set
    reasons: list[str] = field(default_factory=list)
    decision: str = ""
    error: str = ""  # the ticket cannot be computed under this policy (nothing changed)

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.writes or self.error)


class Recompute:
    """Recompute open tickets under `policy` (the container's by default)."""

    def __init__(self, container: Any, policy: Policy | None = None) -> None:
        self.c = container
        self.policy = policy or container.policy
        self.ledger = Ledger(
            self.policy,
            container.clock,
            live=container.live,
            classify_window_s=container.settings.classify_window_s,
            notices_in_office_hours=container.settings.notice_office_hours,
        )
        self._older: dict[str, Policy | None] = {}
        self._diffs: dict[str, PolicyDiff] = {}

    def ticket_ids(self, only: str | None = None) -> list[str]:
        query = open_tickets().order_by(TrackedTicket.created_at, TrackedTicket.ticket_id)
        if only is not None:
            query = query.where(TrackedTicket.ticket_id == only)
        with db.read_only(self.c.sessions)() as session:
            return list(session.scalars(query))

    def run(self, *, dry_run: bool, ticket_id: str | None = None) -> Iterator[TicketRecompute]:
        """Each open ticket's result, one transaction each (rolled back in a dry run)."""
        if not dry_run:
            record_policy(self.c.sessions, self.policy, self.c.clock())
        for one in self.ticket_ids(ticket_id):
            result = self._one(one, dry_run)
            if result is not None:
                yield result

    def _one(self, ticket_id: str, dry_run: bool) -> TicketRecompute | None:
        session = self.c.sessions()
        try:
            ticket = self.ledger.lock(session, ticket_id)
            if ticket is None or ticket.deleted or ticket.closed_at is not None:
                return None  # closed or gone since it was listed
            before = {name: getattr(ticket, name) for name in SHOWN}
            old_version = ticket.policy_version
            outbox = session.get(OutboxWrite, ticket_id)
            wanted_before = json.loads(outbox.fields) if outbox is not None else {}
            try:
                decision = self.ledger.recompute(session, ticket, None)
            except PolicyError as exc:  # e.g. the policy no longer has the ticket's priority
                session.rollback()
                return TicketRecompute(
                    ticket_id,
                    ticket.ticket_number,
                    old_version,
                    self.policy.revision,
                    error=str(exc),
                )
            outbox = session.get(OutboxWrite, ticket_id)
            wanted_after = json.loads(outbox.fields) if outbox is not None else {}
            result = TicketRecompute(
                ticket_id=ticket_id,
                ticket_number=ticket.ticket_number,
                old_version=old_version,
                new_version=ticket.policy_version,
                changes=[
                    FieldChange(name, before[name], getattr(ticket, name))
                    for name in SHOWN
                    if before[name] != getattr(ticket, name)
                ],
                writes=sorted(flat(changed_fields(wanted_after, wanted_before))),
                decision=decision,
            )
            if result.changed:
                result.reasons = self._reasons(ticket, before, result)
            if dry_run or not result.changed:
                session.rollback()
            else:
                self.ledger.audit(
                    session,
                    ticket_id,
                    "recomputed",
                    f"policy {old_version or '-'} → {ticket.policy_version}: "
                    + "; ".join(
                        f"{c.name} {_shown(c.old)} → {_shown(c.new)}" for c in result.changes
                    )
                    + (f" (why: {'; '.join(result.reasons)})" if result.reasons else ""),
                    {
                        "from": old_version,
                        "to": ticket.policy_version,
                        "changes": {c.name: [_shown(c.old), _shown(c.new)] for c in result.changes},
                        "writes": result.writes,
                        "why": result.reasons,
                    },
                )
                session.commit()
            return result
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _reasons(
        self, ticket: TrackedTicket, before: dict[str, Any], result: TicketRecompute
    ) -> list[str]:
        moved = {c.name for c in result.changes} - {"sla_status"}
        if not moved:
            return ["the status as of now (the deadlines are unchanged)"]
        older = self._older_policy(result.old_version)
        if older is None:
            return [
                f"computed with {result.old_version or 'an unrecorded policy'}, whose text was "
                "not recorded: the current policy gives other deadlines"
            ]
        diff = self._diffs.setdefault(result.old_version, PolicyDiff(older, self.policy))
        tz = self.policy.tz
        instants = [
            ticket.created_at,
            self.c.clock(),
            *(before[name] for name in moved if isinstance(before[name], datetime)),
            *(
                getattr(ticket, name)
                for name in moved
                if isinstance(getattr(ticket, name), datetime)
            ),
        ]
        first, last = _local_day(min(instants), tz), _local_day(max(instants), tz)
        calendar = self.policy.priority(ticket.priority).targets.calendar
        found = diff.reasons(calendar, ticket.priority, first, last)
        return found or [f"policy {result.old_version} → {result.new_version}"]

    def fill_figures(self) -> tuple[int, int]:
        """The report's figures of every tracked ticket that has none (computed before they
        existed), closed ones included, each under the policy it was computed with when that
        was recorded (else the current one). Returns (filled, failed)."""
        query = (
            select(TrackedTicket.ticket_id)
            .where(TrackedTicket.deleted.is_(False), TrackedTicket.response_state == "")
            .order_by(TrackedTicket.ticket_id)
        )
        with db.read_only(self.c.sessions)() as session:
            ids = list(session.scalars(query))
        filled = failed = 0
        for ticket_id in ids:
            with db.transaction(self.c.sessions) as session:
                ticket = self.ledger.lock(session, ticket_id)
                if ticket is None or ticket.response_state:
                    continue
                policy = self._older_policy(ticket.policy_version) or self.policy
                try:
                    self.ledger.fill_figures(session, ticket, policy)
                except PolicyError as exc:
                    log.warning("ticket %s: no figures (%s)", ticket_id, exc)
                    session.rollback()
                    failed += 1
                    continue
                filled += 1
        return filled, failed

    def _older_policy(self, version: str) -> Policy | None:
        if version not in self._older:
            with db.read_only(self.c.sessions)() as session:
                row = session.get(PolicyVersion, version) if version else None
                source = row.source if row is not None else None
            try:
                self._older[version] = policy_from_source(source) if source else None
            except PolicyError:
                self._older[version] = None
        return self._older[version]


def _local_day(moment: datetime, tz: Any) -> date:
    return moment.astimezone(tz).date()


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
