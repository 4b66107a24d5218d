"""The report's words in Spanish (the default: Ignus's leads and customers read it) and English."""

from __future__ import annotations

LANGS = ("es", "en")

_WORDS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Informe de cumplimiento de SLA",
        "period": "Periodo",
        "scope": "tickets creados en el periodo (zona horaria {tz}); eliminados excluidos",
        "generated": "Generado",
        "by": "Agrupado por",
        "by_priority": "prioridad",
        "by_account": "cuenta",
        "by_rule": "regla",
        "by_vendor": "proveedor",
        "group": "Grupo",
        "tickets": "Tickets",
        "open": "Abiertos",
        "response_met_pct": "1.ª respuesta cumplida %",
        "resolution_met_pct": "Resolución cumplida % (vencimiento)",
        "target_met_pct": "Resolución cumplida % (objetivo)",
        "breached": "Incumplimientos",
        "response_median_h": "1.ª respuesta mediana h",
        "response_p90_h": "1.ª respuesta p90 h",
        "resolution_median_h": "Resolución mediana h",
        "resolution_p90_h": "Resolución p90 h",
        "paused_total_h": "En pausa h",
        "paused_median_h": "Pausa mediana h",
        "eta_renegotiations": "Renegociaciones de ETA",
        "overrides": "Cambios de prioridad del agente",
        "override_pct": "Cambios de prioridad %",
        "vendor_wait": "Espera a proveedores (h)",
        "no_account": "(sin cuenta)",
        "no_vendor": "(sin proveedor)",
        "total": "Total",
        "chart_weekly": "Cumplimiento por prioridad y semana (%)",
        "chart_weekly_note": (
            "Tickets con algún plazo decidido y ningún plazo incumplido, por semana de creación."
        ),
        "chart_breaches": "Incumplimientos por regla",
        "chart_vendors": "Espera a proveedores (horas)",
        "week_of": "semana del",
        "none": "Sin datos en el periodo.",
        "breached_tickets": "Tickets con plazos incumplidos",
        "ticket": "Ticket",
        "subject": "Asunto",
        "created": "Creado",
        "priority": "Prioridad",
        "rule": "Regla",
        "deadline": "Plazo incumplido",
        "response": "primera respuesta",
        "resolution": "resolución",
        "definitions": "Definiciones",
        "summary": "Resumen",
        "hours": "h",
        "definitions_text": (
            "1.ª respuesta cumplida % = cumplidas / (cumplidas + incumplidas) entre los tickets "
            "cuya primera respuesta está decidida. Resolución cumplida % (vencimiento) = igual, "
            "con el estado de la resolución (cerrados, o abiertos con el vencimiento pasado); los "
            "tickets de terceros no tienen plazo de resolución. Resolución cumplida % (objetivo) = "
            "cerrados a más tardar en su objetivo / cerrados con objetivo, más los vencidos. "
            "Incumplimientos = tickets con algún plazo incumplido. Tiempos en horas hábiles del "
            "calendario del ticket sin las pausas; p90 por rango más cercano. En pausa = horas de "
            "reloj en espera (pausas terminadas). Espera a proveedores = horas de reloj esperando "
            "a cada proveedor (tickets de terceros). Renegociaciones de ETA = veces que "
            "operaciones movió una ETA ya fijada. Cambios de prioridad = tickets cuya prioridad "
            "cambió un agente."
        ),
    },
    "en": {
        "title": "SLA compliance report",
        "period": "Period",
        "scope": "tickets created in the period (time zone {tz}); deleted tickets left out",
        "generated": "Generated",
        "by": "Grouped by",
        "by_priority": "priority",
        "by_account": "account",
        "by_rule": "rule",
        "by_vendor": "vendor",
        "group": "Group",
        "tickets": "Tickets",
        "open": "Open",
        "response_met_pct": "First response met %",
        "resolution_met_pct": "Resolution met % (due)",
        "target_met_pct": "Resolution met % (target)",
        "breached": "Breaches",
        "response_median_h": "First response median h",
        "response_p90_h": "First response p90 h",
        "resolution_median_h": "Resolution median h",
        "resolution_p90_h": "Resolution p90 h",
        "paused_total_h": "Paused h",
        "paused_median_h": "Paused median h",
        "eta_renegotiations": "ETA renegotiations",
        "overrides": "Agent priority overrides",
        "override_pct": "Overrides %",
        "vendor_wait": "Vendor wait (h)",
        "no_account": "(no account)",
        "no_vendor": "(no vendor)",
        "total": "Total",
        "chart_weekly": "Compliance per priority and week (%)",
        "chart_weekly_note": (
            "Tickets with a decided deadline and no breached deadline, by week of creation."
        ),
        "chart_breaches": "Breaches per rule",
        "chart_vendors": "Vendor wait (hours)",
        "week_of": "week of",
        "none": "No data in the period.",
        "breached_tickets": "Tickets with breached deadlines",
        "ticket": "Ticket",
        "subject": "Subject",
        "created": "Created",
        "priority": "Priority",
        "rule": "Rule",
        "deadline": "Breached deadline",
        "response": "first response",
        "resolution": "resolution",
        "definitions": "Definitions",
        "summary": "Summary",
        "hours": "h",
        "definitions_text": (
            "First response met % = met / (met + breached) among tickets whose first response is "
            "decided. Resolution met % (due) = the same with the resolution's state (closed, or "
            "open past the due); third-party tickets have no resolution deadline. Resolution met "
            "% (target) = closed by their target / closed with a target, plus those past the due. "
            "Breaches = tickets with a breached deadline. Times are business hours of the "
            "ticket's calendar, holds excluded; p90 by nearest rank. Paused = wall-clock hours "
            "on hold (ended holds). Vendor wait = wall-clock hours waited on each vendor "
            "(third-party tickets). ETA renegotiations = times operations moved an ETA already "
            "set. Overrides = tickets whose priority an agent changed."
        ),
    },
}


def words(lang: str) -> dict[str, str]:
    return _WORDS[lang]
