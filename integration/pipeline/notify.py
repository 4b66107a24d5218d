"""Step 4b: send the notices the ledger stored (warnings, breaches, reminders).

Each notice is a tag and a private comment on the ticket (each a setting) and an optional chat
message (`CHAT_WEBHOOK_URL`, Slack-compatible `{"text": ...}`). A notice row exists once per
(ticket, key), so it fires once; the comment carries a marker, every POST is counted before it is
sent and a retry looks for the marker first. A failed chat post is retried on its own and never
holds back (or repeats) what was done in Zoho.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import requests

from .. import db
from ..models import Notice
from . import claim
from .fields import TAGS
from .step import ZOHO_FAILURES, Step, run_together

log = logging.getLogger(__name__)

CHAT_TIMEOUT_S = 5.0
NOTICE_LEASE_S = 300


def notice_marker(notice_id: int) -> str:
    return f"ref:sla-notice-{notice_id}"


class NoticeSender(Step):
    @property
    def lease(self) -> timedelta:
        """A notice is a tag, a comment (with a look for it on a retry) and a chat post."""
        return timedelta(seconds=max(self.settings.worker_lease_s, NOTICE_LEASE_S))

    def process(self) -> int:
        now = self.c.clock()
        with db.transaction(self.c.sessions) as session:
            rows = claim.claim(
                session,
                Notice,
                owner=self.owner,
                now=now,
                lease=self.lease,
                limit=self.settings.worker_batch,
                order_by=[Notice.available_at, Notice.id],
                where=self.scoped(Notice),
            )
        if not self.c.live or self.executor is None:
            return self._send_all(rows)
        # A ticket's notices go one after another (their comments keep their order), different
        # tickets' at once on the worker's threads.
        by_ticket: dict[str, list[Notice]] = {}
        for row in rows:
            by_ticket.setdefault(row.ticket_id, []).append(row)
        return run_together(
            self.executor,
            [lambda group=group: self._send_all(group) for group in by_ticket.values()],
        )

    def _send_all(self, rows: list[Notice]) -> int:
        for row in rows:
            self.send(row)
        return len(rows)

    def send(self, row: Notice) -> None:
        try:
            if not row.zoho_done:
                self._to_zoho(row)
                row.zoho_done = True
                self._update(row, zoho_done=True)
        except ZOHO_FAILURES as exc:  # a 422 naming fields was handled where it was sent
            self.settle_zoho_failure(row, exc)
            return
        except claim.LeaseLost:
            return
        except Exception as exc:
            log.exception("notice %s failed", row.id)
            self.settle(row, error=f"{type(exc).__name__}: {exc}")
            return
        if not row.chat_done and not self._chat(row):
            self.settle(row, error="chat webhook did not accept the message")
            return
        with db.transaction(self.c.sessions) as session:
            claim.end(
                session, Notice, row.id, owner=self.owner, status="done",
                sent_at=self.c.clock(), chat_done=True, zoho_done=True,
            )  # fmt: skip
            mode = "sent" if self.c.live else "dry-run: would send"
            self.ledger.audit(
                session, row.ticket_id, f"notice-{row.kind}", f"{mode} {row.key}: {row.text}",
                {"notice": row.id},
            )  # fmt: skip

    def _to_zoho(self, row: Notice) -> None:
        desk = self.c.desk
        if desk is None:  # dry-run: recorded in the audit only
            return
        if self.settings.notice_tags and row.kind in TAGS:
            desk.add_tags(row.ticket_id, [TAGS[row.kind]])
        if not self.settings.notice_comments:
            return
        text = f"{row.text} [{notice_marker(row.id)}]"
        if row.comment_attempts > 0 and self.find_comment(row.ticket_id, notice_marker(row.id)):
            return
        with db.transaction(self.c.sessions) as session:
            until = self.c.clock() + self.lease
            if not claim.renew(session, Notice, row.id, owner=self.owner, until=until):
                raise claim.LeaseLost(row.id)
            stored = session.get(Notice, row.id)
            assert stored is not None
            stored.comment_attempts += 1  # the evidence, committed before the POST
        posted = desk.add_comment(row.ticket_id, text, public=False) or {}
        self._update(row, comment_id=str(posted.get("id") or "")[:32])

    def _chat(self, row: Notice) -> bool:
        url = self.settings.chat_webhook_url.reveal()
        if not url or not self.c.live:
            return True
        try:
            response = requests.post(url, json={"text": row.text}, timeout=CHAT_TIMEOUT_S)
        except requests.RequestException as exc:
            log.warning("chat webhook failed for notice %s: %s", row.id, type(exc).__name__)
            return False
        if response.status_code >= 300:
            log.warning("chat webhook answered %s for notice %s", response.status_code, row.id)
            return False
        self._update(row, chat_done=True)
        return True

    def _update(self, row: Notice, **values: Any) -> None:
        with db.transaction(self.c.sessions) as session:
            stored = session.get(Notice, row.id)
            if stored is not None:
                for name, value in values.items():
                    setattr(stored, name, value)
