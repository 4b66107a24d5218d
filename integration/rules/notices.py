"""Which warnings, breach notices and reminders a ticket is due at an instant, and when the next
one will be. Pure: the clock is a parameter.

Each notice has a key unique within its ticket, so that the store can make it fire once:
`response:<priority>:at_risk`, `response:<priority>:breached`, `resolution:<priority>:...`
(operations work adds the ETA: a renegotiated ETA is a new deadline),
`follow_up:<wait start>:<n>` (third party: every `follow_up_every` of business time while the
ticket waits on its vendor) and `eta_reminder:<n>` (operations: every `eta_reminder_every` once the
response is due and no ETA is set). A ticket that goes At risk, is paused, resumes and goes At
risk again on the same deadline has the same key: no second warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .deadlines import OPERATIONS, THIRD_PARTY, Deadlines, TicketHistory
from .durations import Duration
from .policy import Policy
from .status import SlaStatus

AT_RISK, BREACHED, FOLLOW_UP, ETA_REMINDER = "at_risk", "breached", "follow_up", "eta_reminder"
MAX_REMINDERS = 1000  # a bound on the reminder count, far above any real ticket's


@dataclass(frozen=True)
class Notice:
    key: str
    kind: str  # at_risk | breached | follow_up | eta_reminder
    deadline: str  # response | resolution | vendor | eta
    due_at: datetime  # the instant it became due
    n: int = 0  # the reminder's number (1, 2, ...)


@dataclass(frozen=True)
class NoticePlan:
    due: tuple[Notice, ...]  # due at `now` (the store fires each key once)
    next_at: datetime | None  # the next instant a notice becomes due (None: none planned)


def plan_notices(
    policy: Policy,
    history: TicketHistory,
    deadlines: Deadlines,
    status: SlaStatus,
    now: datetime,
) -> NoticePlan:
    due: list[Notice] = []
    upcoming: list[datetime] = []
    closed = history.closed_at is not None and history.closed_at <= now

    def deadline_notices(name: str, state: str, warning: datetime | None, at: datetime | None):  # type: ignore[no-untyped-def]
        # A deadline is known by its name and what defines it (the priority; the ETA of
        # operations work): a pause moves it but keeps it, an agent's priority change or a
        # renegotiated ETA makes a new one, with warnings and breaches of its own.
        ident = f"{name}:{deadlines.priority.key}"
        if name == "resolution" and history.kind == OPERATIONS and at is not None:
            ident += f":eta={at.strftime('%Y%m%dT%H%M')}"
        if state == "breached" and at is not None:
            due.append(Notice(f"{ident}:{BREACHED}", BREACHED, name, min(at, now)))
        elif state == "running":
            if warning is not None:
                if now >= warning:
                    due.append(Notice(f"{ident}:{AT_RISK}", AT_RISK, name, warning))
                else:
                    upcoming.append(warning)
            if at is not None and at > now:
                upcoming.append(at)

    deadline_notices(
        "response", status.response, deadlines.response_warning, deadlines.response.due
    )
    if history.kind != THIRD_PARTY:
        deadline_notices(
            "resolution",
            status.resolution,
            deadlines.resolution_warning,
            deadlines.resolution_due.due,
        )
    calendar = policy.calendars[deadlines.calendar]
    if not closed:
        # A vendor wait is usually an On Hold status: the deadlines stand still, but the
        # follow-ups of the wait go on (business time of the ticket's calendar).
        if history.kind == THIRD_PARTY and history.vendor_waits:
            wait = history.vendor_waits[-1]
            if wait.end is None:
                every = policy.kinds.third_party_follow_up
                key = f"{FOLLOW_UP}:{wait.start.strftime('%Y%m%dT%H%M%S')}"
                _reminders(due, upcoming, calendar, wait.start, every, now, key, "vendor")
        if (
            history.kind == OPERATIONS
            and deadlines.paused_since is None
            and deadlines.resolution_due.due is None
            and deadlines.response.due is not None
        ):
            every = policy.kinds.eta_reminder
            _reminders(
                due, upcoming, calendar, deadlines.response.due, every, now, ETA_REMINDER, "eta",
                first_at_start=True,
            )  # fmt: skip
    future = [t for t in upcoming if t > now]
    return NoticePlan(tuple(due), min(future) if future else None)


def _reminders(
    due: list[Notice],
    upcoming: list[datetime],
    calendar,  # type: ignore[no-untyped-def]
    start: datetime,
    every: Duration,
    now: datetime,
    key: str,
    deadline: str,
    *,
    first_at_start: bool = False,
) -> None:
    """The latest reminder due (earlier ones missed while the service was down are not sent
    late), and the next one."""
    step = every.to_seconds(calendar.day_length_s)
    if step <= 0:
        return
    done = calendar.between(start, now) if now > start else 0.0
    if first_at_start:
        n = int(done // step) + 1 if now >= start else 0  # reminder 1 at the start itself
        next_offset = (n if now >= start else 0) * step
    else:
        n = int(done // step)
        next_offset = (n + 1) * step
    n = min(n, MAX_REMINDERS)
    if n >= 1:
        offset = (n - 1) * step if first_at_start else n * step
        at = calendar.add(start, offset) if offset else start
        due.append(Notice(f"{key}:{n}", FOLLOW_UP if deadline == "vendor" else ETA_REMINDER,
                          deadline, at, n))  # fmt: skip
    if n < MAX_REMINDERS:
        upcoming.append(calendar.add(start, next_offset) if next_offset else start)
