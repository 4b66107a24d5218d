"""Step 4: write each ticket's decision back to Zoho.

Writes are claimed one at a time, under a lease longer than the longest Zoho call the settings
allow (timeouts x retries + backoffs), and the lease is renewed (ownership checked) before every
call: a worker whose lease expired stops before it sends anything, so a slow Zoho cannot make two
workers PATCH the same ticket or post its comment twice.

The difference is taken at send time: live, against the ticket fetched from Zoho just before the
PATCH; dry-run, against what was last "sent". So the last write to land is always the latest
decision, whatever was in flight when it was made. A 422 naming fields (a picklist without our
value) drops those fields, sends the rest and records the refusal visibly.

The explaining comment is posted at most once: every attempt is counted on the ticket before the
POST and never reset; an attempt after one that may have reached Zoho looks for the comment's
marker first, and the comment's id is stored.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from .. import db
from ..models import OutboxWrite
from ..zoho import InvalidData
from . import claim
from .fetch import RecentReads
from .fields import (
    changed_fields,
    comment_marker,
    flat,
    merge_fields,
    refused_fields,
    still_refused,
    without,
)
from .ledger import DRY_RUN_COMMENT, as_json
from .observe import ANSWER, WRITE, observe
from .step import ZOHO_FAILURES, Budget, Step, run_together

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 60


class OutboxWriter(Step):
    recent: RecentReads | None = None  # tickets the apply step just read (one GET, not two)

    @property
    def lease(self) -> timedelta:
        """Longer than one Zoho call can last with every retry the settings allow."""
        s = self.settings
        per_try = s.zoho_timeout_connect_s + s.zoho_timeout_read_s
        # the client waits what Retry-After says, up to 4 x ZOHO_BACKOFF_MAX_S, between tries
        longest = per_try * (s.zoho_max_retries + 1) + 4 * s.zoho_backoff_max_s * s.zoho_max_retries
        return timedelta(seconds=max(s.worker_lease_s, longest + LEASE_MARGIN_S))

    def process(self) -> int:
        """One round: up to WORKER_BATCH writes, each claimed on its own just before it is
        sent. Live, ZOHO_MAX_CONCURRENCY lanes send at once, each claiming and sending one row
        after another, each row with its own sessions; a ticket has one outbox row, held under
        its lease, so its writes stay in order. Returns how many."""
        budget = Budget(self.settings.worker_batch)
        lanes = 1
        if self.c.live and self.executor is not None:
            lanes = min(self.settings.worker_batch, self.settings.zoho_max_concurrency)
        return run_together(self.executor, [lambda: self._lane(budget)] * lanes)

    def _lane(self, budget: Budget) -> int:
        sent = 0
        while budget.take():
            row = self._claim_next()
            if row is None:
                budget.close()
                break
            self.send(row)
            sent += 1
        return sent

    def _claim_next(self) -> OutboxWrite | None:
        now = self.c.clock()
        with db.transaction(self.c.sessions) as session:
            rows = claim.claim(
                session,
                OutboxWrite,
                owner=self.owner,
                now=now,
                lease=self.lease,
                limit=1,
                order_by=[OutboxWrite.available_at],
                where=[claim.no_events_waiting(now), *self.scoped(OutboxWrite)],
            )
        return rows[0] if rows else None

    def adopt_dry_run(self) -> int:
        """Write-back went live (credentials added): what dry-run only recorded is written for
        real, comment included, even for tickets that get no further event."""
        if not self.c.live:
            return 0
        with db.transaction(self.c.sessions) as session:
            result = session.execute(
                update(OutboxWrite)
                .where(OutboxWrite.dry_run.is_(True), OutboxWrite.status == "done")
                .values(status=claim.PENDING, available_at=self.c.clock(), attempts=0, waits=0)
            )
        adopted = int(result.rowcount)  # type: ignore[attr-defined]
        if adopted:
            log.info("write-back is live: %d ticket(s) recorded in dry-run queued", adopted)
        return adopted

    def _renew(self, row: OutboxWrite) -> None:
        with db.transaction(self.c.sessions) as session:
            until = self.c.clock() + self.lease
            if not claim.renew(session, OutboxWrite, row.ticket_id, owner=self.owner, until=until):
                raise claim.LeaseLost(row.ticket_id)

    def send(self, row: OutboxWrite) -> None:
        wanted: dict[str, Any] = json.loads(row.fields)
        refused: dict[str, Any] = json.loads(row.refused or "{}")
        if not self.c.live:
            diff = changed_fields(wanted, json.loads(row.last_sent))
            self._sent(row, diff, refused, dry_run=True, commented=bool(row.comment))
            return
        try:
            diff, wanted = self._write_fields(row, wanted, refused)
            commented = bool(row.comment) and self._post_comment(row)
        except claim.LeaseLost:
            log.warning("write of ticket %s: lease lost to another worker", row.ticket_id)
            return
        except ZOHO_FAILURES as exc:  # a 422 naming fields was handled where it was sent
            self.settle_zoho_failure(row, exc)
            return
        except Exception as exc:  # a bug or a surprise: counted, retried, then failed visibly
            log.exception("write of ticket %s failed", row.ticket_id)
            self.settle(row, error=f"{type(exc).__name__}: {exc}")
            return
        self._sent(row, diff, refused, dry_run=False, commented=commented)

    def _write_fields(
        self, row: OutboxWrite, wanted: dict[str, Any], refused: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """PATCH what differs from Zoho's state now; returns (what was written, the decision).

        Zoho's state fetched here is the freshest truth: it enters the ticket's history and the
        decision is taken again from it before anything is sent (an agent may have changed the
        priority since the decision was queued, and an agent's priority is never overwritten)."""
        desk = self.c.desk
        assert desk is not None
        self._renew(row)
        current = self.recent.take(row.ticket_id) if self.recent is not None else None
        if current is not None and "priority" in changed_fields(wanted, current):
            current = None  # to set the priority: read Zoho first (an agent's choice stands)
        if current is None:
            current = desk.get_ticket(row.ticket_id) or {}
        wanted = self._decide_again(row, current) or wanted
        diff = changed_fields(without(wanted, still_refused(wanted, refused)), current)
        while diff:
            self._renew(row)
            try:
                answer = desk.update_ticket(row.ticket_id, diff)
            except InvalidData as exc:
                refusals = refused_fields(exc.field_errors, diff)
                if not refusals:
                    raise
                sent = flat(diff)
                for name, reason in refusals.items():
                    refused[name] = {"value": sent.get(name), "reason": reason or exc.message}
                names = list(refusals)
                log.warning("ticket %s: Zoho refused %s (%s)", row.ticket_id, names, exc)
                diff = without(diff, names)
                continue
            # The answer is ours for the priority only if we set it (an agent's change that
            # landed just before our PATCH of other fields shows in the answer too).
            sent_priority = (
                "priority" in diff and (answer or {}).get("priority") == diff["priority"]
            )
            with db.transaction(self.c.sessions) as session:
                seen = observe(answer or {}, WRITE if sent_priority else ANSWER, self.c.policy)
                if seen is not None:
                    self.ledger.record(session, row.ticket_id, [seen])
            return diff, wanted
        return {}, wanted

    def _decide_again(self, row: OutboxWrite, current: dict[str, Any]) -> dict[str, Any] | None:
        """Record Zoho's state and recompute; the row then holds the latest decision."""
        with db.transaction(self.c.sessions) as session:
            ticket = self.ledger.lock(session, row.ticket_id)
            seen = observe(current, "fetch", self.c.policy)
            if seen is not None:
                self.ledger.record(session, row.ticket_id, [seen])
            if ticket is None:
                return None
            decision = self.ledger.recompute(session, ticket, current)
            fresh = session.get(OutboxWrite, row.ticket_id)
            if fresh is None or fresh.lease_owner != self.owner:
                raise claim.LeaseLost(row.ticket_id)
            if fresh.version != row.version:
                self.ledger.audit(
                    session, row.ticket_id, "decided-again", f"at send time: {decision}", {}
                )
            row.fields, row.comment, row.version = fresh.fields, fresh.comment, fresh.version
        return json.loads(row.fields)  # type: ignore[no-any-return]

    def _post_comment(self, row: OutboxWrite) -> bool:
        """Post the comment unless it is already in Zoho; True when this call posted it."""
        desk = self.c.desk
        assert desk is not None
        with db.transaction(self.c.sessions) as session:
            ticket = self.ledger.lock(session, row.ticket_id)
            if ticket is None or ticket.comment_posted:
                return False
            tried_before = ticket.comment_attempts > 0
        marker = comment_marker(row.ticket_id)
        found = self.find_comment(row.ticket_id, marker) if tried_before else None
        posted = found is None
        if found is None:
            with db.transaction(self.c.sessions) as session:
                ticket = self.ledger.lock(session, row.ticket_id)
                until = self.c.clock() + self.lease
                renewed = claim.renew(
                    session, OutboxWrite, row.ticket_id, owner=self.owner, until=until
                )
                if ticket is None or ticket.comment_posted or not renewed:
                    raise claim.LeaseLost(row.ticket_id)
                ticket.comment_attempts += 1  # the evidence, committed before the POST
            found = desk.add_comment(row.ticket_id, row.comment, public=False) or {}
        with db.transaction(self.c.sessions) as session:
            ticket = self.ledger.lock(session, row.ticket_id)
            if ticket is not None:
                ticket.comment_posted = True
                ticket.comment_id = str(found.get("id") or "")[:32]
        return posted

    def settle_dry_run(self, session: Any, ticket: Any, row: OutboxWrite) -> None:
        """Dry-run: a decision just queued is "written" in the caller's transaction (what
        `send` would record for it a moment later, without a second claim and transaction)."""
        diff = changed_fields(json.loads(row.fields), json.loads(row.last_sent))
        comment = row.comment or None
        now = self.c.clock()
        if comment and ticket is not None:
            ticket.comment_id = DRY_RUN_COMMENT
        row.status = "done"
        row.comment = ""
        row.last_sent = as_json(merge_fields(json.loads(row.last_sent), diff))
        row.sent_at = now
        row.dry_run = True
        row.lease_owner = None
        row.lease_until = None
        row.last_error = ""
        row.updated_at = now
        self._audit_sent(
            session, row.ticket_id, diff, json.loads(row.refused or "{}"), True, comment
        )

    def _sent(
        self,
        row: OutboxWrite,
        diff: dict[str, Any],
        refused: dict[str, Any],
        *,
        dry_run: bool,
        commented: bool,
    ) -> None:
        now = self.c.clock()
        with db.transaction(self.c.sessions) as session:
            # Lock order everywhere: the ticket row, then its outbox row (else: deadlocks).
            ticket = self.ledger.lock(session, row.ticket_id)
            last_sent = merge_fields(json.loads(row.last_sent), diff)
            if dry_run and commented and ticket is not None:
                # Would have been posted; marked apart, so that it is posted for real once
                # write-back goes live.
                ticket.comment_id = DRY_RUN_COMMENT
            done = claim.end(
                session,
                OutboxWrite,
                row.ticket_id,
                OutboxWrite.version == row.version,
                owner=self.owner,
                status="done",
                comment="",
                last_sent=as_json(last_sent),
                sent_at=now,
                writes=OutboxWrite.writes + (1 if diff and not dry_run else 0),
                dry_run=dry_run,
                refused=as_json(refused),
                updated_at=now,
            )
            if not done:  # a newer decision came in meanwhile: send it next
                claim.release(
                    session,
                    OutboxWrite,
                    row.ticket_id,
                    owner=self.owner,
                    available_at=now,
                    error="",
                    last_sent=as_json(last_sent),
                    refused=as_json(refused),
                    attempts=0,  # a new decision: its own attempts
                    waits=0,
                )
            self._audit_sent(
                session, row.ticket_id, diff, refused, dry_run, row.comment if commented else None
            )

    def _audit_sent(
        self,
        session: Any,
        ticket_id: str,
        diff: dict[str, Any],
        refused: dict[str, Any],
        dry_run: bool,
        comment: str | None,
    ) -> None:
        verb = "dry-run: would write" if dry_run else "wrote"
        posted = " and the assignment comment" if comment else ""
        what = f"{verb} {as_json(diff)}{posted}" if diff or comment else (
            "Zoho already shows every value: nothing written"
        )  # fmt: skip
        if refused:
            what += f"; refused by Zoho: {', '.join(sorted(refused))}"
        self.ledger.audit(
            session,
            ticket_id,
            "write-back",
            what,
            {"fields": diff, "dry_run": dry_run, "comment": comment, "refused": refused or None},
        )
