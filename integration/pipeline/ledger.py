"""The SLA ledger of each ticket: its classification, the append-only observation log, the
deadlines recomputed from that log, the coalescing outbox row, and the audit trail.

Every method works inside the caller's transaction and does no I/O besides the database, so the
worker can apply an event (fetch first, then one transaction here) and be killed at any point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import Session

from .. import db
from ..models import (
    AuditEntry,
    InboxEvent,
    OutboxWrite,
    PriorityOverride,
    TicketObservation,
    TrackedTicket,
)
from ..models import Notice as NoticeRow
from ..rules import (
    Classification,
    Policy,
    Request,
    classify,
    compute_deadlines,
    evaluate,
    vendor_wait_seconds,
)
from ..rules.classify import confidence_of
from ..rules.figures import ticket_figures
from ..rules.notices import Notice, plan_notices
from . import claim as queue
from .fields import (
    assignment_comment,
    changed_fields,
    comment_marker,
    desired_fields,
    merge_fields,
    notice_text,
    still_refused,
    without,
)
from .observe import OURS, Classified, Observation, build_history, parse_zoho_time

ADOPT_SOURCE = "adopt"  # inbox events of `python -m integration adopt` (pipeline/adopt.py)
DRY_RUN_COMMENT = "dry-run"  # tickets.comment_id of a comment dry-run "posted"
SAME_INSTANT = timedelta(milliseconds=1)  # Zoho's times have milliseconds


def _columns(obs: Observation) -> dict[str, Any]:
    return {
        "status": obs.status[:64],
        "status_type": obs.status_type[:16],
        "priority": obs.priority[:32],
        "onhold_time": obs.onhold_time,
        "closed_time": obs.closed_time,
        "eta": obs.eta[:40],
        "quote_status": obs.quote_status[:64],
        "department_id": obs.department_id[:32],
        "account_id": obs.account_id[:32],
        "modified_by": obs.modified_by[:32],
    }


def _columns_of(row: TicketObservation) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _columns(Observation(row.modified_time, ""))}


def _observation(row: TicketObservation) -> Observation:
    return Observation(
        modified_time=row.modified_time,
        source=row.source,
        status=row.status,
        status_type=row.status_type,
        priority=row.priority,
        onhold_time=row.onhold_time,
        closed_time=row.closed_time,
        eta=row.eta,
        quote_status=row.quote_status,
        department_id=row.department_id,
        account_id=row.account_id,
        modified_by=row.modified_by,
    )


def store_figures(ticket: TrackedTicket, figures: Any) -> None:
    """The compliance report's figures onto the ticket's row (attribute sets: no statement)."""
    ticket.account_id = figures.account_id[:32]
    ticket.closed_at = figures.closed_at
    ticket.response_state = figures.response_state[:16]
    ticket.resolution_state = figures.resolution_state[:16]
    ticket.response_business_s = figures.response_business_s
    ticket.resolution_business_s = figures.resolution_business_s
    ticket.paused_s = figures.paused_s
    ticket.eta_changes = figures.eta_changes


def insert_audit() -> Any:
    """A Core INSERT of audit entries (the ORM would insert them one by one to learn their ids;
    nobody needs them)."""
    return AuditEntry.__table__.insert()


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class Batch:
    """The rows of a batch's tickets, read in four set-based statements and locked for the
    batch's transaction, so applying each event reads nothing more: the tickets and their
    outbox rows (FOR UPDATE, in ticket order: two workers lock in the same order), the
    observation logs and the notices' keys. New observations are inserted together at the end
    (`Ledger.end_batch`)."""

    tickets: dict[str, TrackedTicket]
    absent: set[str]  # read and not tracked (yet)
    outbox: dict[str, OutboxWrite]
    observations: dict[str, list[Observation]]
    notices: dict[str, dict[str, str]]  # ticket -> notice key -> status
    rows: list[dict[str, Any]] = field(default_factory=list)  # observations to insert
    audits: list[dict[str, Any]] = field(default_factory=list)  # audit entries to insert


class Ledger:
    def __init__(
        self,
        policy: Policy,
        clock: Callable[[], datetime],
        *,
        live: bool,
        classify_window_s: float,
        notices_in_office_hours: bool = True,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.live = live
        self.classify_window_s = classify_window_s
        self.notices_in_office_hours = notices_in_office_hours
        self.batch: Batch | None = None

    def begin_batch(self, session: Session, ticket_ids: set[str]) -> Batch:
        """Read and lock the rows of these tickets for one transaction (see `Batch`)."""
        ids = sorted(ticket_ids)
        tickets = {
            t.ticket_id: t
            for t in session.scalars(
                select(TrackedTicket)
                .where(TrackedTicket.ticket_id.in_(ids))
                .order_by(TrackedTicket.ticket_id)
                .with_for_update()
            )
        }
        outbox = {
            o.ticket_id: o
            for o in session.scalars(
                select(OutboxWrite)
                .where(OutboxWrite.ticket_id.in_(ids))
                .order_by(OutboxWrite.ticket_id)
                .with_for_update()
            )
        }
        observations: dict[str, list[Observation]] = {i: [] for i in ids}
        for row in session.scalars(
            select(TicketObservation).where(TicketObservation.ticket_id.in_(ids))
        ):
            observations[row.ticket_id].append(_observation(row))
        notices: dict[str, dict[str, str]] = {i: {} for i in ids}
        for ticket_id, key, status in session.execute(
            select(NoticeRow.ticket_id, NoticeRow.key, NoticeRow.status).where(
                NoticeRow.ticket_id.in_(ids)
            )
        ):
            notices[ticket_id][key] = status
        self.batch = Batch(tickets, set(ids) - set(tickets), outbox, observations, notices)
        return self.batch

    def end_batch(self, session: Session) -> None:
        """Insert the batch's new observations in one statement (insert-or-ignore)."""
        batch, self.batch = self.batch, None
        if batch is None:
            return
        if batch.rows:
            insert = db.insert_for(session.get_bind().dialect.name)
            session.execute(
                insert(TicketObservation).on_conflict_do_nothing(
                    index_elements=["ticket_id", "modified_time"]
                ),
                batch.rows,
            )
        if batch.audits:  # executemany without RETURNING: one statement, not one per row
            session.execute(insert_audit(), batch.audits)

    @classmethod
    def of(cls, container: Any, clock: Callable[[], datetime] | None = None) -> Ledger:
        """The ledger of a running service (its policy, write-back mode and settings); `clock`
        replaces the container's (the sweep evaluates a batch at one instant)."""
        settings = container.settings
        return cls(
            container.policy,
            clock or container.clock,
            live=container.live,
            classify_window_s=settings.classify_window_s,
            notices_in_office_hours=settings.notice_office_hours,
        )

    def lock(self, session: Session, ticket_id: str) -> TrackedTicket | None:
        batch = self.batch
        if batch is not None and (ticket_id in batch.tickets or ticket_id in batch.absent):
            return batch.tickets.get(ticket_id)
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
        predates = event.event_type != "Ticket_Add" and seen - created > window
        # Adopted (`adopt`: open before the service tracked it), or first seen long after its
        # creation (it predates the service): someone already chose its priority, and the agent
        # wins; an adopted ticket keeps it however young. A ticket whose Ticket_Add is merely
        # late (events of other modules may come first) is still classified, and so is any
        # ticket without a priority of the policy.
        if existing is not None and (event.source == ADOPT_SOURCE or predates):
            result = replace(
                result,
                priority=existing.key,
                evidence=(*result.evidence, f"kept the ticket's priority {existing.key}"),
            )
        values = {
            "ticket_id": ticket_id,
            "org_id": str(snapshot.get("orgId") or event.org_id or "")[:32],
            "ticket_number": str(snapshot.get("ticketNumber") or "")[:32],
            "created_at": created,
            "classified_priority": result.priority,
            "kind": result.kind,
            "vendor": result.vendor,
            "rule_id": result.rule_id,
            "priority": result.priority,
            "evidence": as_json(list(result.evidence)),
            "subject": str(snapshot.get("subject") or "")[:255],
            "comment_posted": False,
            "comment_attempts": 0,
            "comment_id": "",
            "deleted": False,
            "updated_at": self.clock(),
        }
        if self.batch is not None:
            # Inserted with the batch (one statement for its new tickets). Another worker that
            # tracks the same ticket meanwhile makes the batch fail on the key; its events are
            # then applied one by one, through the insert-or-ignore below.
            inserted = TrackedTicket(**values)
            session.add(inserted)
            self.batch.absent.discard(ticket_id)
            self.batch.tickets[ticket_id] = inserted
            self.batch.observations.setdefault(ticket_id, [])
            self.batch.notices.setdefault(ticket_id, {})
            ticket = inserted
        else:
            insert = db.insert_for(session.get_bind().dialect.name)
            inserted = session.scalars(
                insert(TrackedTicket)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["ticket_id"])
                .returning(TrackedTicket),  # the new row itself: no second read
                execution_options={"populate_existing": True},
            ).first()
            ticket = inserted if inserted is not None else self.lock(session, ticket_id)
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
        session.execute(
            update(NoticeRow)
            .where(NoticeRow.ticket_id == ticket_id, NoticeRow.status == queue.PENDING)
            .values(status="cancelled", last_error="ticket deleted in Zoho")
        )
        self.audit(session, ticket_id, "deleted", "ticket deleted in Zoho: tracking stopped", {})

    def record(self, session: Session, ticket_id: str, observations: list[Observation]) -> None:
        """Append observations. The first one heard for an instant stands, with two exceptions:
        Zoho's answer to our own PATCH takes its instant over (so a webhook echo of our write,
        heard before the answer was recorded, is still known to be ours); and a fetched state
        that differs from the one recorded at its instant is a later change made within the
        same millisecond (Zoho's times often end in .000), recorded just after it."""
        if self.batch is not None and ticket_id in self.batch.observations:
            self._record_in_batch(session, ticket_id, observations)
            return
        insert = db.insert_for(session.get_bind().dialect.name)
        keys = ["ticket_id", "modified_time"]
        for obs in observations:
            values = _columns(obs)
            statement = insert(TicketObservation).values(
                ticket_id=ticket_id,
                modified_time=obs.modified_time,
                source=obs.source,
                recorded_at=self.clock(),
                **values,
            )
            if obs.source in OURS:
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=keys, set_={"source": obs.source, **values}
                    )
                )
                continue
            stored = session.execute(
                statement.on_conflict_do_nothing(index_elements=keys).returning(
                    TicketObservation.id
                )
            ).first()
            if stored is None and obs.source == "fetch":
                self._record_same_instant(session, ticket_id, obs, values)

    def _record_in_batch(
        self, session: Session, ticket_id: str, observations: list[Observation]
    ) -> None:
        """`record` against the batch's log in memory; the same rules, the rows queued."""
        assert self.batch is not None
        known = self.batch.observations[ticket_id]
        for obs in observations:
            if obs.source in OURS:  # answers to our PATCH are not in the apply step: at once
                self.batch.observations.pop(ticket_id)
                self.record(session, ticket_id, [obs])
                self.batch.observations[ticket_id] = [
                    o for o in known if o.modified_time != obs.modified_time
                ] + [obs]
                known = self.batch.observations[ticket_id]
                continue
            same = [o for o in known if o.modified_time == obs.modified_time]
            if not same:
                known.append(obs)
                self.batch.rows.append(
                    {
                        "ticket_id": ticket_id,
                        "modified_time": obs.modified_time,
                        "source": obs.source,
                        "recorded_at": self.clock(),
                        **_columns(obs),
                    }
                )
                continue
            if obs.source != "fetch":
                continue
            window = sorted(
                (
                    o
                    for o in known
                    if obs.modified_time <= o.modified_time < obs.modified_time + SAME_INSTANT
                ),
                key=lambda o: o.modified_time,
            )
            values = _columns(obs)
            if any(_columns(o) == values for o in window):
                continue  # already known
            later = replace(obs, modified_time=window[-1].modified_time + timedelta(microseconds=1))
            if later.modified_time < obs.modified_time + SAME_INSTANT:
                self._record_in_batch(session, ticket_id, [later])

    def _record_same_instant(
        self, session: Session, ticket_id: str, obs: Observation, values: dict[str, Any]
    ) -> None:
        rows = session.scalars(
            select(TicketObservation)
            .where(
                TicketObservation.ticket_id == ticket_id,
                TicketObservation.modified_time >= obs.modified_time,
                TicketObservation.modified_time < obs.modified_time + SAME_INSTANT,
            )
            .order_by(TicketObservation.modified_time)
        ).all()
        if not rows or any(_columns_of(r) == values for r in rows):
            return  # already known
        later = replace(obs, modified_time=rows[-1].modified_time + timedelta(microseconds=1))
        if later.modified_time < obs.modified_time + SAME_INSTANT:
            self.record(session, ticket_id, [later])

    def is_our_write(self, session: Session, ticket_id: str, modified: datetime | None) -> bool:
        """Whether Zoho's `modifiedTime` is the one of an answer to our own PATCH."""
        if modified is None:
            return False
        if self.batch is not None and ticket_id in self.batch.observations:
            return any(
                o.modified_time == modified and o.source in OURS
                for o in self.batch.observations[ticket_id]
            )
        source = session.scalar(
            select(TicketObservation.source).where(
                TicketObservation.ticket_id == ticket_id,
                TicketObservation.modified_time == modified,
            )
        )
        return source in OURS

    def observations(self, session: Session, ticket_id: str) -> list[Observation]:
        if self.batch is not None and ticket_id in self.batch.observations:
            return list(self.batch.observations[ticket_id])
        rows = session.scalars(
            select(TicketObservation).where(TicketObservation.ticket_id == ticket_id)
        )
        return [_observation(r) for r in rows]

    def outbox(self, session: Session, ticket_id: str) -> OutboxWrite | None:
        """The ticket's outbox row, locked (lock order: the ticket row first)."""
        if self.batch is not None and ticket_id in self.batch.tickets:
            return self.batch.outbox.get(ticket_id)
        return session.get(OutboxWrite, ticket_id, with_for_update=True)

    def recompute(
        self,
        session: Session,
        ticket: TrackedTicket,
        current: dict[str, Any] | None,
    ) -> str:
        """Deadlines and status from the whole observation log; what Zoho should show into the
        ticket's outbox row.

        The row keeps the whole decision, not a difference: the difference is taken when the
        write is sent, against Zoho's state then, so the last write to land is always the
        latest decision even when an earlier one is still in flight. `current` is Zoho's state
        fetched just now (live), used only to skip queueing when no write is in flight and Zoho
        already shows every value."""
        observations = self.observations(session, ticket.ticket_id)
        classified = Classified(
            ticket.created_at, ticket.classified_priority, ticket.kind, ticket.vendor
        )
        history = build_history(
            self.policy, classified, observations, first_response_at=ticket.first_response_at
        )
        now = self.clock()
        settled = ticket.closed_at is not None and history.closed_at == ticket.closed_at
        if settled and ticket.policy_version and ticket.policy_version != self.policy.revision:
            # Closed, and still closed at the same instant: it was settled under the policy of
            # its time. A later edit (a subject, a tag) under a new policy changes neither its
            # deadlines in Zoho nor its figures in past reports; reopened, it is computed anew.
            return f"closed under policy {ticket.policy_version}: its deadlines and figures stand"
        deadlines = compute_deadlines(self.policy, history)
        status = evaluate(history, deadlines, now)
        agent_changed = len(history.priorities) > 1
        zoho_priority = None if agent_changed else deadlines.priority.zoho_value
        if agent_changed:
            self._record_override(session, ticket, history.priorities[1].at, deadlines.priority.key)
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
        ticket.policy_version = deadlines.policy_version
        ticket.updated_at = now
        ticket.vendor_waits = as_json(
            {k: round(v) for k, v in vendor_wait_seconds(history, now).items()}
        )
        store_figures(ticket, ticket_figures(self.policy, history, deadlines, status))
        plan = plan_notices(self.policy, history, deadlines, status, now)
        self._notices(session, ticket, plan.due, deadlines, history, now)
        upcoming = [t for t in (status.next_change_at, plan.next_at) if t is not None]
        ticket.next_check_at = min(upcoming) if upcoming else None

        comment = ""
        dry_run_posted = not self.live and ticket.comment_id == DRY_RUN_COMMENT
        if not ticket.comment_posted and not dry_run_posted and deadlines.response.due is not None:
            # Stated once the deadlines are known: a ticket first seen on hold gets its comment
            # when the clocks run again, not one that reads "no date" three times.
            comment = assignment_comment(
                self.policy,
                self._classification(ticket),
                deadlines,
                marker=comment_marker(ticket.ticket_id),
            )
        wanted = as_json(desired)
        outbox = self.outbox(session, ticket.ticket_id)
        in_flight = outbox is not None and outbox.status in (queue.PENDING, queue.PROCESSING)
        refused = json.loads(outbox.refused or "{}") if outbox is not None else {}
        comparable = without(desired, still_refused(desired, refused))
        if self.live:
            known = current
        else:  # dry-run: Zoho never got our values; compare with what we would have written
            last_sent = json.loads(outbox.last_sent) if outbox is not None else {}
            known = merge_fields(current or {}, last_sent)
        shows_all = known is not None and not changed_fields(comparable, known)
        if outbox is not None and outbox.fields == wanted and outbox.comment == comment:
            # Decided before: queued, sent, or failed visibly (`inbox retry` sends it again),
            # unless someone has since changed our values in Zoho (then they are put back).
            went_live = self.live and outbox.dry_run  # credentials added since: write for real
            if not went_live and (
                outbox.status != "done" or shows_all or not self.live or current is None
            ):
                return f"{status.status}; the same values are already decided: nothing new"
        elif not in_flight and not comment and shows_all:
            self._store(session, outbox, ticket.ticket_id, wanted, "", now, "done")
            return f"{status.status}; Zoho already shows every value: nothing to write"
        self._store(session, outbox, ticket.ticket_id, wanted, comment, now, queue.PENDING)
        return f"{status.status}; queued the decision for write-back" + (
            " with the explaining comment" if comment else ""
        )

    def fill_figures(self, session: Session, ticket: TrackedTicket, policy: Policy) -> None:
        """The report's figures of a ticket computed before they existed, from its history
        under `policy` (the one it was computed with): nothing else of the ticket changes, and
        nothing is written to Zoho."""
        classified = Classified(
            ticket.created_at, ticket.classified_priority, ticket.kind, ticket.vendor
        )
        history = build_history(
            policy,
            classified,
            self.observations(session, ticket.ticket_id),
            first_response_at=ticket.first_response_at,
        )
        deadlines = compute_deadlines(policy, history)
        status = evaluate(history, deadlines, self.clock())
        store_figures(ticket, ticket_figures(policy, history, deadlines, status))

    def _record_override(
        self, session: Session, ticket: TrackedTicket, first_change: datetime, agent_priority: str
    ) -> None:
        """The agent overrode the service's priority: one row per ticket (insert, or the agent's
        latest choice), only when something changed, so a recompute costs a statement only for
        tickets agents corrected."""
        if ticket.priority == agent_priority and ticket.policy_version:
            return  # recorded when the change was first seen
        insert = db.insert_for(session.get_bind().dialect.name)
        statement = insert(PriorityOverride).values(
            ticket_id=ticket.ticket_id,
            ticket_number=ticket.ticket_number,
            rule_id=ticket.rule_id,
            subject=ticket.subject,
            kind=ticket.kind,
            vendor=ticket.vendor,
            classified_priority=ticket.classified_priority,
            agent_priority=agent_priority,
            changed_at=first_change,
            updated_at=self.clock(),
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["ticket_id"],
                set_={"agent_priority": agent_priority, "updated_at": self.clock()},
            )
        )

    def _notices(
        self,
        session: Session,
        ticket: TrackedTicket,
        due: tuple[Notice, ...],
        deadlines: Any,
        history: Any,
        now: datetime,
    ) -> None:
        """Each due notice is stored once (insert-or-ignore on its key); the sender posts it.
        Office-hours tickets' notices wait for the next opening (the status is written now)."""
        # Notices not sent yet that no longer hold are withdrawn: the reply heard just after
        # the breach was stored, the ticket closed before its deferred warning went out.
        keys = self.batch.notices.get(ticket.ticket_id) if self.batch is not None else None
        due_keys = {n.key[:64] for n in due}
        if keys is not None:  # the batch knows the ticket's notices: only what changes
            withdrawn = [k for k, s in keys.items() if s == queue.PENDING and k not in due_keys]
            if withdrawn:
                session.execute(
                    update(NoticeRow)
                    .where(
                        NoticeRow.ticket_id == ticket.ticket_id,
                        NoticeRow.key.in_(withdrawn),
                        NoticeRow.status == queue.PENDING,
                    )
                    .values(status="withdrawn", last_error="no longer due when it was to be sent")
                )
                keys.update(dict.fromkeys(withdrawn, "withdrawn"))
            due = tuple(n for n in due if n.key[:64] not in keys)
            keys.update(dict.fromkeys((n.key[:64] for n in due), queue.PENDING))
            if not due:
                return
        else:
            pending = NoticeRow.status == queue.PENDING
            if session.get_bind().dialect.name == "sqlite":
                # Without statistics SQLite would walk every pending notice by the status
                # index; the hint says the status test is not selective, so the ticket's index
                # is used. (SQLite wants the probability as a literal, not a bound parameter.)
                pending = func.likelihood(pending, literal_column("0.9"))  # type: ignore[assignment]
            session.execute(
                update(NoticeRow)
                .where(
                    NoticeRow.ticket_id == ticket.ticket_id,
                    pending,
                    NoticeRow.key.not_in(sorted(due_keys)),
                )
                .values(status="withdrawn", last_error="no longer due when it was to be sent")
            )
        if not due:
            return
        calendar = self.policy.calendars[deadlines.calendar]
        send_at = calendar.next_open(now) if self.notices_in_office_hours else now
        insert = db.insert_for(session.get_bind().dialect.name)
        wait = history.vendor_waits[-1] if history.vendor_waits else None
        for notice in due:
            at = {
                "response": deadlines.response.due,
                "resolution": deadlines.resolution_due.due,
                "eta": deadlines.response.due,
            }.get(notice.deadline)
            session.execute(
                insert(NoticeRow)
                .values(
                    ticket_id=ticket.ticket_id,
                    key=notice.key[:64],
                    kind=notice.kind,
                    deadline=notice.deadline,
                    due_at=notice.due_at,
                    text=notice_text(
                        self.policy,
                        notice.kind,
                        notice.deadline,
                        due=at,
                        n=notice.n,
                        vendor=ticket.vendor,
                        since=wait.start if wait else None,
                    ),
                    status=queue.PENDING,
                    attempts=0,
                    waits=0,
                    available_at=send_at,
                    last_error="",
                    zoho_done=False,
                    comment_attempts=0,
                    comment_id="",
                    chat_done=False,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["ticket_id", "key"])
            )

    def _store(
        self,
        session: Session,
        outbox: OutboxWrite | None,
        ticket_id: str,
        wanted: str,
        comment: str,
        now: datetime,
        status: str,
    ) -> None:
        if outbox is None:
            row = OutboxWrite(
                ticket_id=ticket_id,
                fields=wanted,
                comment=comment,
                version=1,
                status=status,
                attempts=0,
                waits=0,
                available_at=now,
                last_error="",
                last_sent="{}",
                writes=0,
                dry_run=not self.live,
                refused="{}",
                updated_at=now,
            )
            session.add(row)
            if self.batch is not None:
                self.batch.outbox[ticket_id] = row
            return
        outbox.fields = wanted
        outbox.comment = comment
        outbox.version += 1
        if outbox.status != queue.PROCESSING:  # an in-flight send requeues the new version
            outbox.status = status
            outbox.attempts = 0
            outbox.waits = 0
            outbox.available_at = now
        outbox.dry_run = not self.live
        outbox.updated_at = now

    def _classification(self, ticket: TrackedTicket) -> Classification:
        rule = next((r for r in self.policy.rules if r.id == ticket.rule_id), None)
        try:
            evidence = tuple(str(e) for e in json.loads(ticket.evidence or "[]"))
        except ValueError:
            evidence = ()
        return Classification(
            priority=ticket.classified_priority,
            kind=ticket.kind,
            vendor=ticket.vendor,
            rule_id=ticket.rule_id,
            evidence=evidence,
            description=rule.description if rule else "default priority of the policy",
            confidence=confidence_of(ticket.rule_id, evidence),
        )

    def audit(
        self, session: Session, ticket_id: str, decision: str, reason: str, data: dict[str, Any]
    ) -> None:
        entry = {
            "ticket_id": ticket_id,
            "at": self.clock(),
            "decision": decision[:32],
            "reason": reason,
            "data": as_json(data),
        }
        if self.batch is not None:  # inserted with the batch's other entries, in this order
            self.batch.audits.append(entry)
            return
        session.add(AuditEntry(**entry))
