"""The report as a text table (people at a terminal), CSV (spreadsheets) and JSON (programs).

CSV and JSON keys are English and stable; the group labels and the table are in the report's
language. Instants in JSON are ISO 8601 UTC (`...Z`), as everywhere in the CLI's JSON.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from ..rules.explain import format_when
from .compile import GroupFigures, Report, TicketRow
from .labels import words

# (field of GroupFigures.as_dict, short header es, short header en): the table's columns
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("tickets", "tickets", "tickets"),
    ("open", "abiertos", "open"),
    ("response_met_pct", "resp%", "resp%"),
    ("resolution_met_pct", "resol%", "resol%"),
    ("target_met_pct", "obj%", "target%"),
    ("breached", "incumpl", "breaches"),
    ("response_median_h", "resp med", "resp med"),
    ("response_p90_h", "resp p90", "resp p90"),
    ("resolution_median_h", "resol med", "resol med"),
    ("resolution_p90_h", "resol p90", "resol p90"),
    ("paused_total_h", "pausa h", "paused h"),
    ("eta_renegotiations", "ETA mov", "ETA moved"),
    ("overrides", "cambios", "overrides"),
    ("override_pct", "cambios%", "overr%"),
)


def iso_z(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if value == round(value, 1) else f"{value:.2f}"
    return str(value)


def when(report: Report, moment: datetime, lang: str) -> str:
    tz = report.period.tz
    return f"{format_when(moment, tz, lang)} {moment.astimezone(tz):%Z}"


def header_lines(report: Report, lang: str) -> list[str]:
    said = words(lang)
    period = report.period
    return [
        said["title"],
        f"{said['period']}: {period.first.isoformat()} – {period.last.isoformat()}; "
        f"{said['scope'].format(tz=period.tz.key)}",
        f"{said['by']}: {said['by_' + report.by]}",
        f"{said['generated']}: {when(report, report.generated_at, lang)}",
    ]


def render_table(report: Report, lang: str) -> str:
    said = words(lang)
    index = 1 if lang == "es" else 2
    headers = [said["group"]] + [c[index] for c in COLUMNS]
    lines_data = [[g.label] + [cell(g.as_dict()[c[0]]) for c in COLUMNS] for g in report.groups]
    totals = [report.totals.label] + [cell(report.totals.as_dict()[c[0]]) for c in COLUMNS]
    widths = [
        max(len(row[i]) for row in [headers, *lines_data, totals]) for i in range(len(headers))
    ]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join([first] + [v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)])

    out = [*header_lines(report, lang), "", line(headers)]
    out += [line(row) for row in lines_data]
    out += ["-" * len(line(headers)), line(totals), ""]
    out.append(
        f"resp% / resol% / {'obj%' if lang == 'es' else 'target%'}: "
        f"{said['response_met_pct']} / {said['resolution_met_pct']} / {said['target_met_pct']}; "
        f"med / p90: {said['hours']}"
    )
    if report.vendor_wait_h:
        waits = ", ".join(f"{v}: {cell(h)} h" for v, h in report.vendor_wait_h.items())
        out.append(f"{said['vendor_wait']}: {waits}")
    t = report.totals
    out.append(
        f"{said['eta_renegotiations']}: {t.eta_renegotiations} "
        f"({t.eta_renegotiated_tickets}/{t.operations_tickets})"
    )
    return "\n".join(out) + "\n"


def _ticket(row: TicketRow) -> dict[str, Any]:
    return {
        "ticket": row.ticket_id,
        "number": row.number,
        "subject": row.subject,
        "created_at": iso_z(row.created_at),
        "priority": row.priority,
        "kind": row.kind,
        "vendor": row.vendor or None,
        "rule": row.rule_id,
        "account": row.account_id or None,
        "closed_at": iso_z(row.closed_at),
        "response_state": row.response_state,
        "resolution_state": row.resolution_state,
        "response_business_s": row.response_business_s,
        "resolution_business_s": row.resolution_business_s,
        "paused_s": row.paused_s,
        "eta_changes": row.eta_changes,
        "vendor_waits_s": dict(row.vendor_waits),
        "resolution_target": iso_z(row.resolution_target),
        "overridden": row.overridden,
        "breached": row.breached,
    }


def as_data(report: Report, *, tickets: bool = True) -> dict[str, Any]:
    period = report.period
    data: dict[str, Any] = {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "timezone": period.tz.key,
            "tickets": "created in the period, deleted ones left out",
        },
        "by": report.by,
        "generated_at": iso_z(report.generated_at),
        "groups": [g.as_dict() for g in report.groups],
        "totals": report.totals.as_dict(),
        "weekly": [
            {
                "week": p.week.isoformat(),
                "priority": p.priority,
                "decided": p.decided,
                "met": p.met,
                "met_pct": p.met_pct,
            }
            for p in report.weekly
        ],
        "breaches_by_rule": dict(report.breaches_by_rule),
        "vendor_wait_h": dict(report.vendor_wait_h),
    }
    if tickets:
        data["tickets"] = [_ticket(r) for r in report.tickets]
    return data


def render_json(report: Report) -> str:
    return json.dumps(as_data(report), ensure_ascii=False, indent=2) + "\n"


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is quoted: group labels come
    from tickets (account ids, vendors)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_row(report: Report, group: GroupFigures, kind: str, vendors: list[str]) -> list[Any]:
    values = {k: spreadsheet_safe(v) for k, v in group.as_dict().items()}
    waits = values.pop("vendor_wait_h")
    return [
        report.period.first.isoformat(),
        report.period.last.isoformat(),
        report.by,
        kind,
        *("" if v is None else v for v in values.values()),
        *(waits.get(v, 0.0) for v in vendors),
    ]


def render_csv(report: Report) -> str:
    vendors = list(report.vendor_wait_h)
    names = [k for k in report.totals.as_dict() if k != "vendor_wait_h"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["period_from", "period_to", "by", "row", *names, *(f"vendor_wait_h:{v}" for v in vendors)]
    )
    for group in report.groups:
        writer.writerow(_csv_row(report, group, "group", vendors))
    writer.writerow(_csv_row(report, report.totals, "total", vendors))
    return out.getvalue()
