"""The Zoho Desk views support leads work from, built on the fields this service writes.

Leads read Zoho, not this service: each view is a saved filter on our custom fields
(`cf_sla_status`, `cf_sla_response_due`, `cf_sla_resolution_due`, named by the policy's
`[fields]`), sorted so the ticket to act on first is on top. `python -m integration zoho views`
prints them to create by hand (Zoho's API does not create views); `zoho check` lists the portal's
views, where the API lets it, and says which are missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..rules import Policy
from ..rules.status import AT_RISK, BREACHED, ETA_PENDING, PAUSED, WAITING_THIRD_PARTY
from ..rules.text import normalize


@dataclass(frozen=True)
class Criterion:
    field: str  # the field's API name (as Zoho's view editor lists it by label)
    operator: str  # as Zoho's view editor words it
    value: str

    def line(self) -> str:
        return f"{self.field} {self.operator} {self.value}".rstrip()


@dataclass(frozen=True)
class View:
    name: str  # Spanish: the name leads see (and `zoho check` looks for)
    english: str
    purpose: str
    criteria: tuple[Criterion, ...]
    sort_field: str
    sort_order: str  # "ascending" | "descending"
    sort_why: str


def views(policy: Policy) -> tuple[View, ...]:
    """The six views, on the policy's field names."""
    f = policy.fields
    not_closed = Criterion("Status Type", "is not", "Closed")

    def status_is(value: str) -> Criterion:
        return Criterion(f.status, "is", value)

    nearest = "the nearest due first"
    return (
        View(
            "SLA vencido",
            "SLA breached",
            "open tickets past a deadline: act on them now",
            (status_is(BREACHED), not_closed),
            f.resolution_due,
            "ascending",
            f"{nearest} (the longest breached on top)",
        ),
        View(
            "SLA en riesgo",
            "SLA at risk",
            "past the warning point of a deadline, not breached yet",
            (status_is(AT_RISK), not_closed),
            f.response_due,
            "ascending",
            f"{nearest}: an unanswered ticket's first response comes before its resolution",
        ),
        View(
            "Vence hoy",
            "Due today",
            "the resolution is due today (policy time zone)",
            (Criterion(f.resolution_due, "is", "Today"), not_closed),
            f.resolution_due,
            "ascending",
            nearest,
        ),
        View(
            "Esperando proveedor",
            "Waiting on vendor",
            "third-party requests waiting on a vendor (no resolution deadline while waiting)",
            (status_is(WAITING_THIRD_PARTY), not_closed),
            "Modified Time",
            "ascending",
            "no due while waiting: the longest untouched first (follow-ups go out by it)",
        ),
        View(
            "ETA pendiente",
            "ETA pending",
            "operations requests whose ETA is not set yet",
            (status_is(ETA_PENDING), not_closed),
            f.response_due,
            "ascending",
            f"{nearest} (the first response still runs)",
        ),
        View(
            "Pausados",
            "Paused",
            "on hold: every clock stopped (waiting on the customer, quote approval...)",
            (status_is(PAUSED), not_closed),
            "Modified Time",
            "ascending",
            "no due while paused (Zoho hides due times on hold): the longest paused first",
        ),
    )


def render(policy: Policy) -> str:
    """The views as a lead would type them into Zoho Desk (Tickets, Views, New view)."""
    lines = [
        "Create each view in Zoho Desk: Tickets > Views > + New view (share it with the",
        "support leads' role). Match ALL criteria.",
        "",
    ]
    for view in views(policy):
        lines.append(f'"{view.name}" ({view.english}): {view.purpose}')
        for criterion in view.criteria:
            lines.append(f"    criterion  {criterion.line()}")
        lines.append(f"    sort by    {view.sort_field} {view.sort_order}: {view.sort_why}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def missing_views(policy: Policy, listed: Iterable[dict[str, object]]) -> list[View]:
    """The views not found among the portal's, by name (any case, with or without accents,
    Spanish or English)."""
    names = {normalize(str(v.get("name") or "")) for v in listed if isinstance(v, dict)}
    return [
        view
        for view in views(policy)
        if normalize(view.name) not in names and normalize(view.english) not in names
    ]
