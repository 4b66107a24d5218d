"""The SLA policy engine: pure Python, no I/O; every instant and the clock are passed in."""

from .calendar import BusinessCalendar, CalendarError
from .classify import Classification, Request, classify
from .deadlines import (
    Deadline,
    Deadlines,
    EtaChange,
    Hold,
    PriorityChange,
    TicketHistory,
    VendorWait,
    add_with_holds,
    compute_deadlines,
)
from .durations import Duration, DurationError, parse_duration, parse_range
from .explain import explain
from .policy import Policy, PolicyError, load_policy
from .status import STATUSES, SlaStatus, evaluate, vendor_wait_seconds

__all__ = [
    "STATUSES",
    "BusinessCalendar",
    "CalendarError",
    "Classification",
    "Deadline",
    "Deadlines",
    "Duration",
    "DurationError",
    "EtaChange",
    "Hold",
    "Policy",
    "PolicyError",
    "PriorityChange",
    "Request",
    "SlaStatus",
    "TicketHistory",
    "VendorWait",
    "add_with_holds",
    "classify",
    "compute_deadlines",
    "evaluate",
    "explain",
    "load_policy",
    "parse_duration",
    "parse_range",
    "vendor_wait_seconds",
]
