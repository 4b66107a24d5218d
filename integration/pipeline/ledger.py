"""The SLA ledger of each ticket: its classification, the append-only observation log, the
deadlines recomputed from that log, the coalescing outbox row, and the audit trail.

Every method works inside the caller's transaction and does no I/O besides the database, so the
worker can apply an event (fetch first, then one transaction here) and be killed at any point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import db
from ..models import AuditEntry, InboxEvent, OutboxWrite, TicketObservation, TrackedTicket
from ..rules import Classification, Policy, Request, classify, compute_deadlines, evaluate
from . import claim as queue
from .fields import assignment_comment, changed_fields, desired_fields, merge_fields
from .observe import Classified, Observation, build_history, parse_zoho_time


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class Ledger:
    def __init__(
        self,
        policy: Policy,
        clock: Callable[[], datetime],
        *,
        live: bool,
        classify_window_s: float,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.live = live
        self.classify_window_s = classify_window_s

    def lock(self, session: Session, ticket_id: str) -> TrackedTicket | None:
        return session.scalar(
            select(TrackedTicket).where(TrackedTicket.ticket_id == ticket_id).with_for_update()
        )

    def start_tracking(
        self, session: Session, ticket_id: str, snapshot: dict[str, Any], event: InboxEvent
    ) -> tuple[TrackedTicket, Classification | None]:
        """Classify a ticket seen for the first time; insert-or-ignore, so when two workers race
        on a new ticket, one classifies and the other gets that row (and None)."""
        created = parse_zoho_time(snapshot.get("createdTime")) or event.modified_time
        if created is None:
            created = event.event_time or event.received_at
        result = classify(self.policy, Request.from_ticket(snapshot))
        existing = self.policy.find_priority(str(snapshot.get("priority") or ""))
        seen = parse_zoho_time(snapshot.get("modifiedTime")) or event.received_at
        window = timedelta(seconds=self.classify_window_s)
        if event.event_type != "Ticket_Add" and seen - created > window and existing is not None:
            # First seen long after its creation (it predates the service): someone already
            # chose its priority, and the agent wins. A ticket whose Ticket_Add is merely late
            # (events of other modules may come first) is still classified.
            result = replace(
                result,
                priority=existing.key,
                evidence=(*result.evidence, f"kept the ticket's priority {existing.key}"),
            )
        insert = db.insert_for(session.get_bind().dialect.name)
        inserted = session.execute(
            insert(TrackedTicket)
            .values(
                ticket_id=ticket_id,
                org_id=str(snapshot.get("orgId") or event.org_id or "")[:32],
                ticket_number=str(snapshot.get("ticketNumber") or "")[:32],
                created_at=created,
                classified_priority=result.priority,
                kind=result.kind,
                vendor=result.vendor,
                rule_id=result.rule_id,
                priority=result.priority,
                comment_posted=False,
                deleted=False,
                updated_at=self.clock(),
            )
            .on_conflict_do_nothing(index_elements=["ticket_id"])
            .returning(TrackedTicket.ticket_id)
        ).first()
        ticket = self.lock(session, ticket_id)
        assert ticket is not None
        if inserted is None:  # another worker classified it a moment ago: theirs stands
            return ticket, None
        self.audit(
            session,
            ticket_id,
            "classified",
            f"priority {result.priority}, kind {result.kind}, rule {result.rule_id}: "
            + "; ".join(result.evidence),
            {
                "priority": result.priority,
                "kind": result.kind,
                "vendor": result.vendor,
                "rule": result.rule_id,
                "evidence": list(result.evidence),
            },
        )
        return ticket, result

    def stop_tracking(self, session: Session, ticket: TrackedTicket | None, ticket_id: str) -> None:
        if ticket is not None:
            ticket.deleted = True
            ticket.next_check_at = None
            ticket.updated_at = self.clock()
        session.execute(
            update(OutboxWrite)
            .where(
                OutboxWrite.ticket_id == ticket_id, OutboxWrite.status.in_(["pending", "failed"])
            )
            .values(status="cancelled", updated_at=self.clock())
        )
        self.audit(session, ticket_id, "deleted", "ticket deleted in Zoho: tracking stopped", {})

    def record(self, session: Session, ticket_id: str, observations: list[Observation]) -> None:
        insert = db.insert_for(session.get_bind().dialect.name)
        for obs in observations:
            session.execute(
                insert(TicketObservation)
                .values(
                    ticket_id=ticket_id,
                    modified_time=obs.modified_time,
                    source=obs.source,
                    status=obs.status[:64],
                    status_type=obs.status_type[:16],
                    priority=obs.priority[:32],
                    onhold_time=obs.onhold_time,
                    closed_time=obs.closed_time,
                    eta=obs.eta[:40],
                    quote_status=obs.quote_status[:64],
                    department_id=obs.department_id[:32],
                    account_id=obs.account_id[:32],
                    modified_by=obs.modified_by[:32],
                    recorded_at=self.clock(),
                )
                .on_conflict_do_nothing(index_elements=["ticket_id", "modified_time"])
            )

    def observations(self, session: Session, ticket_id: str) -> list[Observation]:
        rows = session.scalars(
            select(TicketObservation).where(TicketObservation.ticket_id == ticket_id)
        )
        return [
            Observation(
                modified_time=r.modified_time,
                source=r.source,
                status=r.status,
                status_type=r.status_type,
                priority=r.priority,
                onhold_time=r.onhold_time,
                closed_time=r.closed_time,
                eta=r.eta,
                quote_status=r.quote_status,
                department_id=r.department_id,
                account_id=r.account_id,
                modified_by=r.modified_by,
            )
            for r in rows
        ]

    def recompute(
        self,
        session: Session,
        ticket: TrackedTicket,
        current: dict[str, Any],
        our_agent: str,
        classification: Classification | None = None,
    ) -> str:
        """Deadlines from the whole observation log; the differing values into the outbox.
        `classification` is given when the ticket was just classified: its first assignment
        then gets the explaining comment."""
        observations = self.observations(session, ticket.ticket_id)
        classified = Classified(
            ticket.created_at, ticket.classified_priority, ticket.kind, ticket.vendor
        )
        history = build_history(
            self.policy,
            classified,
            observations,
            first_response_at=ticket.first_response_at,
            our_agent_id=our_agent,
        )
        now = self.clock()
        deadlines = compute_deadlines(self.policy, history)
        status = evaluate(history, deadlines, now)
        agent_changed = len(history.priorities) > 1
        zoho_priority = None if agent_changed else deadlines.priority.zoho_value
        department = next(
            (
                o.department_id
                for o in sorted(observations, key=lambda o: o.modified_time, reverse=True)
                if o.department_id
            ),
            "",
        )
        desired = desired_fields(
            self.policy,
            deadlines,
            status,
            ticket.rule_id,
            priority=zoho_priority,
            department_id=department,
        )

        ticket.priority = deadlines.priority.key
        ticket.response_due = deadlines.response.due
        ticket.resolution_target = deadlines.resolution_target.due
        ticket.resolution_due = deadlines.resolution_due.due
        ticket.sla_status = status.status
        ticket.next_check_at = status.next_change_at
        ticket.policy_version = deadlines.policy_version
        ticket.updated_at = now

        outbox = session.get(OutboxWrite, ticket.ticket_id, with_for_update=True)
        known = dict(current)
        if outbox is not None and not self.live:
            # Dry-run: Zoho never got our values; compare with what we would have written.
            known = merge_fields(known, json.loads(outbox.last_sent))
        diff = changed_fields(desired, known)
        comment = outbox.comment if outbox is not None and not ticket.comment_posted else ""
        if classification is not None and not ticket.comment_posted:
            comment = assignment_comment(self.policy, classification, deadlines)
        if not diff and not comment:
            if outbox is not None and outbox.status == "pending":
                outbox.status, outbox.fields = "done", "{}"
                outbox.version += 1
                outbox.updated_at = now
            return f"{status.status}; Zoho already shows every value: nothing to write"
        if outbox is None:
            session.add(
                OutboxWrite(
                    ticket_id=ticket.ticket_id,
                    fields=as_json(diff),
                    comment=comment,
                    version=1,
                    status="pending",
                    attempts=0,
                    available_at=now,
                    last_error="",
                    last_sent="{}",
                    writes=0,
                    dry_run=not self.live,
                    updated_at=now,
                )
            )
        else:
            outbox.fields = as_json(diff)
            outbox.comment = comment
            outbox.version += 1
            if outbox.status != queue.PROCESSING:  # an in-flight send requeues newer values
                outbox.status = queue.PENDING
                outbox.attempts = 0
                outbox.available_at = now
            outbox.dry_run = not self.live
            outbox.updated_at = now
        names = sorted([*(k for k in diff if k != "cf"), *diff.get("cf", {})])
        return f"{status.status}; queued write of {', '.join(names) or 'the comment'}"

    def audit(
        self, session: Session, ticket_id: str, decision: str, reason: str, data: dict[str, Any]
    ) -> None:
        session.add(
            AuditEntry(
                ticket_id=ticket_id,
                at=self.clock(),
                decision=decision[:32],
                reason=reason,
                data=as_json(data),
            )
        )
