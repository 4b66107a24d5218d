"""Why is this due then? A readable account of a computation, in Spanish or English."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .deadlines import Deadline, Deadlines, TicketHistory
from .policy import Policy
from .status import SlaStatus

_DAYS = {
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS = {
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_WORDS = {
    "es": {
        "priority": "Prioridad",
        "calendar": "calendario",
        "plan": "Plan de soporte dedicado",
        "kind": "Tipo de solicitud",
        "created": "Creado",
        "starts": "El reloj inicia",
        "response_due": "Primera respuesta",
        "resolution_target": "Objetivo de resolución",
        "resolution_due": "Resolución comprometida",
        "counted": "Tiempo hábil contado",
        "skipped": "Días sin servicio omitidos",
        "holds": "Pausas (todos los relojes detenidos)",
        "open": "sigue en pausa",
        "paused": "en pausa: sin fecha hasta reanudar",
        "none": "sin fecha",
        "status": "Estado",
        "etas": "ETA registrados (cada renegociación)",
        "business": "hábiles",
        "weekend": "fin de semana",
        "holiday": "día festivo",
        "day off": "día no laborable",
        "exception": "excepción del 24x7",
        "kinds": {
            "standard": "estándar",
            "third_party": "depende de un tercero",
            "operations": "operaciones (ETA)",
            "billable": "con costo (requiere cotización)",
        },
    },
    "en": {
        "priority": "Priority",
        "calendar": "calendar",
        "plan": "Dedicated-support plan",
        "kind": "Request kind",
        "created": "Created",
        "starts": "Clock starts",
        "response_due": "First response",
        "resolution_target": "Resolution target",
        "resolution_due": "Resolution due",
        "counted": "Business time counted",
        "skipped": "Closed days skipped",
        "holds": "Holds (every clock stopped)",
        "open": "still on hold",
        "paused": "paused: no date until resumed",
        "none": "no date",
        "status": "Status",
        "etas": "ETAs recorded (each renegotiation)",
        "business": "business",
        "weekend": "weekend",
        "holiday": "holiday",
        "day off": "day off",
        "exception": "24x7 exception",
        "kinds": {
            "standard": "standard",
            "third_party": "depends on a third party",
            "operations": "operations (ETA)",
            "billable": "billable (quote required)",
        },
    },
}


_REASONS_ES = {
    "first response deadline passed": "venció el plazo de primera respuesta",
    "resolution deadline passed": "venció el plazo de resolución",
    "closed within its deadlines": "cerrado dentro de sus plazos",
    "on hold: every clock is stopped": "en pausa: todos los relojes detenidos",
    "past the warning point of a deadline": "pasó el punto de alerta de un plazo",
    "operations has not set an ETA": "operaciones no ha registrado un ETA",
    "every deadline is ahead": "todos los plazos por delante",
}


def format_when(moment: datetime, tz: ZoneInfo, lang: str) -> str:
    local = moment.astimezone(tz)
    day = _DAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    return f"{day} {local.day} {month} {local.year} {local:%H:%M}"


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d} h"


def _deadline_lines(d: Deadline, policy: Policy, tz: ZoneInfo, lang: str) -> list[str]:
    words = _WORDS[lang]
    label = words[d.name]
    if d.due is None:
        state = d.note or (words["paused"] if d.start is not None else words["none"])
        return [f"{label}: {state}"]
    amount = f" ({_span(d.seconds)} {words['business']})" if d.calendar is not None else ""
    lines = [f"{label}{amount} → {format_when(d.due, tz, lang)}"]
    if d.note:
        lines.append(f"    ({d.note})")
    counted = d.counted()
    if counted:
        lines.append(f"    {words['counted']}:")
        for lo, hi in counted:
            lines.append(
                f"      {format_when(lo, tz, lang)} – {hi.astimezone(tz):%H:%M}  "
                f"({_span((hi - lo).total_seconds())})"
            )
    return lines


def explain(
    policy: Policy,
    history: TicketHistory,
    deadlines: Deadlines,
    status: SlaStatus | None = None,
    lang: str = "es",
) -> str:
    words = _WORDS[lang]
    tz = policy.tz
    calendar = policy.calendars[deadlines.calendar]
    names = deadlines.priority.names
    shown = names[0] if lang == "es" else names[-1]
    lines = [
        f"{words['priority']}: {shown} ({words['calendar']}: {deadlines.calendar}, {tz.key})",
        f"{words['kind']}: {words['kinds'].get(deadlines.kind, deadlines.kind)}"
        + (f" — {history.vendor}" if history.vendor else ""),
    ]
    if deadlines.plan is not None:
        lines.append(f"{words['plan']}: {deadlines.plan.name}")
    lines.append(f"{words['created']}: {format_when(history.created, tz, lang)}")
    if deadlines.response.start is not None:
        lines.append(
            f"{words['starts']}: {format_when(calendar.next_open(history.created), tz, lang)}"
        )
    lines.append("")
    for deadline in (deadlines.response, deadlines.resolution_target, deadlines.resolution_due):
        lines.extend(_deadline_lines(deadline, policy, tz, lang))
    ends = [d for d in (deadlines.resolution_due.due, deadlines.response.due) if d is not None]
    if ends:
        closed = calendar.closed_days(history.created, max(ends))
        if closed:
            lines += ["", f"{words['skipped']}:"]
            for day in closed:
                kind = words.get(day.reason, day.reason)
                name = "" if day.reason == "weekend" else f": {day.name}"
                lines.append(
                    f"  {_DAYS[lang][day.day.weekday()]} {day.day.isoformat()} — {kind}{name}"
                )
    if history.holds:
        lines += ["", f"{words['holds']}:"]
        for hold in sorted(history.holds, key=lambda h: h.start):
            end = format_when(hold.end, tz, lang) if hold.end else words["open"]
            held = ""
            if hold.end is not None:
                held = f"  ({_span(calendar.between(hold.start, hold.end))} {words['business']})"
            lines.append(f"  {format_when(hold.start, tz, lang)} → {end}{held}  [{hold.reason}]")
    if history.etas:
        lines += ["", f"{words['etas']}:"]
        for change in history.etas:
            eta = format_when(change.eta, tz, lang) if change.eta else words["none"]
            lines.append(f"  {format_when(change.at, tz, lang)} → {eta}")
    if status is not None:
        reason = status.reason
        if lang == "es":
            reason = _REASONS_ES.get(reason, reason.replace("waiting on", "en espera de"))
        lines += ["", f"{words['status']}: {status.status} — {reason}"]
    return "\n".join(lines)
