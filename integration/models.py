"""Tables of the service (SQLAlchemy 2 declarative). Alembic migrations must match these exactly;
`tests/test_migrations.py` proves it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None) if _is_sqlite(dialect) else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_sqlite(dialect: object) -> bool:
    return getattr(dialect, "name", "") == "sqlite"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProcessHeartbeat(Base):
    """Last sign of life of each long-running process (web, worker, clock), for readiness."""

    __tablename__ = "process_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str] = mapped_column(String(255), default="")


class OAuthToken(Base):
    """The shared OAuth state of one integration: the cached access token, the refresh lease that
    makes refreshing single-flight across threads and processes, and the re-authorisation and
    credit-pause flags that stop calls."""

    __tablename__ = "oauth_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refresh_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reauth_required: Mapped[bool] = mapped_column(Boolean, default=False)
    reauth_reason: Mapped[str] = mapped_column(String(500), default="")
    calls_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxEvent(Base):
    """One webhook event as received (or replayed, or polled). Insert-or-ignore on `dedupe_key`
    makes a repeated delivery a no-op; the worker claims rows under a lease that expires."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    event_type: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(String(32), default="")
    ticket_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    modified_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    body: Mapped[str] = mapped_column(Text)  # the event object as JSON
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # times it was put back because Zoho could not be called (credits, re-authorisation): bounded
    waits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_inbox_events_claim", "status", "available_at"),)


class TrackedTicket(Base):
    """The SLA state of one ticket: its classification and the latest computed deadlines.

    Everything here can be recomputed from `ticket_observations`; it is kept for reads and for the
    clock (`next_check_at`)."""

    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(32), default="")
    ticket_number: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    classified_priority: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(64), default="")
    rule_id: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(32))
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_modified_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    zoho_status: Mapped[str] = mapped_column(String(64), default="")
    zoho_status_type: Mapped[str] = mapped_column(String(16), default="")
    sla_status: Mapped[str] = mapped_column(String(32), default="")
    response_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution_target: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    policy_version: Mapped[str] = mapped_column(String(64), default="")
    evidence: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    comment_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Evidence that the explaining comment may have reached Zoho: counted before each POST and
    # never reset, so a retry looks for the comment's marker before posting again.
    comment_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    comment_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # JSON: vendor -> seconds waited on it (third-party tickets), as of `updated_at`
    vendor_waits: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    # The subject it was classified on (for `sla overrides`: what agents corrected, and why)
    subject: Mapped[str] = mapped_column(String(255), default="", server_default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The compliance report's figures, stored at each recompute from the ticket's own history
    # (so a closed ticket's figures are the same whenever the report runs): the account (last
    # seen), when it closed, each deadline's state (met | breached | running | paused | ...), the
    # business seconds to the first response and to the closing (holds excluded), the wall-clock
    # seconds on hold, and how many times operations moved a set ETA.
    account_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_state: Mapped[str] = mapped_column(String(16), default="", server_default="")
    resolution_state: Mapped[str] = mapped_column(String(16), default="", server_default="")
    response_business_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_business_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    eta_changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PolicyVersion(Base):
    """Each policy a ticket was computed with, as loaded (the TOML text), so `sla recompute`
    can say what changed between a ticket's version and the current one."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketObservation(Base):
    """Append-only: the SLA-relevant fields of a ticket as they were at its `modified_time`.

    Deadlines are a function of this log (holds, priority changes, ETAs are read off it), so an
    event heard late, twice or out of order gives the same answer as one heard at once."""

    __tablename__ = "ticket_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    modified_time: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))  # webhook | prev_state | fetch | write | poll
    status: Mapped[str] = mapped_column(String(64), default="")
    status_type: Mapped[str] = mapped_column(String(16), default="")
    priority: Mapped[str] = mapped_column(String(32), default="")
    onhold_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    eta: Mapped[str] = mapped_column(String(40), default="")
    quote_status: Mapped[str] = mapped_column(String(64), default="")
    department_id: Mapped[str] = mapped_column(String(32), default="")
    account_id: Mapped[str] = mapped_column(String(32), default="")
    modified_by: Mapped[str] = mapped_column(String(32), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("ticket_id", "modified_time"),)


class AuditEntry(Base):
    """Why the service did what it did, per ticket, in order."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text, default="{}")


class OutboxWrite(Base):
    """The one write-back of a ticket. `fields` holds every value Zoho should show (the latest
    decision, not a difference): the difference is computed when the write is sent, against
    Zoho's state then (live) or `last_sent` (dry-run). A new decision bumps `version`."""

    __tablename__ = "outbox"

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fields: Mapped[str] = mapped_column(Text, default="{}")  # JSON: Zoho field -> wanted value
    comment: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_sent: Mapped[str] = mapped_column(Text, default="{}")  # JSON of the values Zoho has
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    writes: Mapped[int] = mapped_column(Integer, default=0)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    waits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # JSON: field -> Zoho's reason, for values Zoho refused (e.g. a picklist without the value)
    refused: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")

    __table_args__ = (Index("ix_outbox_claim", "status", "available_at"),)


class Notice(Base):
    """A warning, breach notice or reminder of one ticket: a tag, a private comment and an
    optional chat message. The unique (ticket, key) makes each fire once, across restarts and
    clocks, even when a ticket goes At risk, is paused, resumes and goes At risk again."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))  # e.g. response:at_risk, follow_up:<start>:2
    kind: Mapped[str] = mapped_column(String(16))  # at_risk | breached | follow_up | eta_reminder
    deadline: Mapped[str] = mapped_column(String(16))  # response | resolution | vendor | eta
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it became due
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    waits: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())  # office hours: next opening
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    zoho_done: Mapped[bool] = mapped_column(Boolean, default=False)  # tag and comment
    comment_attempts: Mapped[int] = mapped_column(Integer, default=0)
    comment_id: Mapped[str] = mapped_column(String(32), default="")
    chat_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("ticket_id", "key"),
        Index("ix_notices_claim", "status", "available_at"),
    )


class Cursor(Base):
    """A saved position, e.g. how far the reconciliation poll has read Zoho's modified tickets."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PriorityOverride(Base):
    """An agent changed the priority the service had set: one row per ticket, the agent's latest
    choice, so Ignus can review its rules and grow the classification corpus."""

    __tablename__ = "priority_overrides"

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(32), default="")
    rule_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(64), default="")
    classified_priority: Mapped[str] = mapped_column(String(32))
    agent_priority: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the first change
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
