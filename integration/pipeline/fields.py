"""What goes back onto a Zoho ticket (policy.md §6), and the private comment of the first
assignment. Only fields whose value differs from the ticket's are written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..rules import Classification, Deadlines, Policy, SlaStatus
from ..rules.explain import format_when
from ..zoho.client import zoho_time
from .observe import parse_zoho_time, sub_mapping


def _time(moment: datetime | None) -> str | None:
    return zoho_time(moment) if moment is not None else None


def desired_fields(
    policy: Policy,
    deadlines: Deadlines,
    status: SlaStatus,
    rule_id: str,
    *,
    priority: str | None,
    department_id: str = "",
) -> dict[str, Any]:
    """The values our fields should hold. `priority` is the Zoho value to set, or None to leave
    the ticket's priority alone (an agent changed it: the agent wins)."""
    names = policy.fields
    fields: dict[str, Any] = {
        "cf": {
            names.response_due: _time(deadlines.response.due),
            names.resolution_target: _time(deadlines.resolution_target.due),
            names.resolution_due: _time(deadlines.resolution_due.due),
            names.status: status.status,
            names.rule: rule_id,
        }
    }
    if priority is not None:
        fields["priority"] = priority
    if names.writes_due_date(department_id):
        fields["dueDate"] = _time(deadlines.resolution_due.due)
    return fields


def _same(wanted: Any, current: Any) -> bool:
    if wanted == current:
        return True
    if wanted is None or current is None:
        return not wanted and not current
    a, b = parse_zoho_time(wanted), parse_zoho_time(current)
    if a is not None and b is not None and not str(wanted).lstrip("-").isdigit():
        return a == b
    return str(wanted) == str(current)


def changed_fields(desired: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `desired` that differs from the ticket `current` (a Zoho ticket object)."""
    changed: dict[str, Any] = {}
    current_cf = sub_mapping(current, "cf")
    for key, value in desired.items():
        if key == "cf":
            cf = {k: v for k, v in value.items() if not _same(v, current_cf.get(k))}
            if cf:
                changed["cf"] = cf
        elif not _same(value, current.get(key)):
            changed[key] = value
    return changed


def without(fields: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """`fields` less the named ones (`priority`, `dueDate`, or a custom field's API name)."""
    drop = set(names)
    kept = {k: v for k, v in fields.items() if k != "cf" and k not in drop}
    cf = {k: v for k, v in sub_mapping(fields, "cf").items() if k not in drop}
    if cf:
        kept["cf"] = cf
    return kept


def flat(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field name -> value, the custom fields (`cf`) beside the system ones."""
    return {k: v for k, v in fields.items() if k != "cf"} | dict(sub_mapping(fields, "cf"))


def still_refused(fields: Mapping[str, Any], refused: Mapping[str, Any]) -> list[str]:
    """The fields whose value Zoho refused before (e.g. a picklist without it): not sent again
    until the value changes or someone runs `inbox retry` after fixing the field in Zoho."""
    return [
        name
        for name, value in flat(fields).items()
        if isinstance(refused.get(name), Mapping) and refused[name].get("value") == value
    ]


def refused_fields(field_errors: Iterable[Any], sent: Mapping[str, Any]) -> dict[str, str]:
    """The fields of `sent` that a 422's `errors[].fieldName` name (`/cf_sla_status`,
    `cf.cf_sla_status`, `priority`...), with Zoho's message for each; empty when the error names
    none of them."""
    names = flat(sent)
    found: dict[str, str] = {}
    for error in field_errors:
        raw = str(getattr(error, "field_name", "") or "").strip("/ ")
        name = raw.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        if name in names and name not in found:
            found[name] = str(getattr(error, "message", "") or "")
    return found


def merge_fields(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: (dict(sub_mapping(base, "cf")) if k == "cf" else v) for k, v in base.items()}
    for key, value in update.items():
        if key == "cf":
            merged["cf"] = {**merged.get("cf", {}), **sub_mapping(update, "cf")}
        else:
            merged[key] = value
    return merged


def only_our_fields_changed(
    payload: Mapping[str, Any], prev_state: Mapping[str, Any], policy: Policy
) -> bool:
    """Echo detection: between prevState and payload, nothing changed but the fields we write."""
    ours_cf = {
        policy.fields.response_due,
        policy.fields.resolution_target,
        policy.fields.resolution_due,
        policy.fields.status,
        policy.fields.rule,
    }
    # priority is compared like any other field: a priority change may be an agent's.
    ignored = {"modifiedTime", "modifiedBy", "dueDate", "cf", "customFields"}
    for key in set(payload) | set(prev_state):
        if key in ignored or key not in prev_state:
            continue
        if payload.get(key) != prev_state.get(key):
            return False
    new_cf, old_cf = sub_mapping(payload, "cf"), sub_mapping(prev_state, "cf")
    return all(
        new_cf.get(k) == old_cf.get(k) for k in set(new_cf) & set(old_cf) if k not in ours_cf
    )


_COMMENT = {
    "es": {
        "title": "[SLA] Prioridad asignada: {priority}",
        "rule": "Regla: {rule} — {description}",
        "evidence": "Evidencia: {evidence}",
        "kind": "Tipo de solicitud: {kind}",
        "calendar": "Calendario: {calendar} ({tz})",
        "response": "Primera respuesta antes de: {when}",
        "target": "Objetivo de resolución: {when}",
        "due": "Resolución comprometida: {when}",
        "none": "sin fecha ({note})",
        "footer": "Calculado por el servicio de SLA (política {version}).",
        "check": {
            "low": "Confianza baja: ninguna regla coincidió y se aplicó la prioridad por omisión. "
            "Por favor revise la prioridad.",
            "medium": "Confianza media: reglas de otra prioridad también coincidieron. "
            "Por favor revise la prioridad.",
        },
        "kinds": {
            "standard": "estándar",
            "third_party": "depende de un tercero ({vendor}): se da seguimiento a la espera",
            "operations": "operaciones: la resolución vence en el ETA que registre operaciones",
            "billable": "con costo: el reloj se detiene mientras la cotización espera autorización",
        },
    },
    "en": {
        "title": "[SLA] Priority set: {priority}",
        "rule": "Rule: {rule} — {description}",
        "evidence": "Evidence: {evidence}",
        "kind": "Request kind: {kind}",
        "calendar": "Calendar: {calendar} ({tz})",
        "response": "First response due: {when}",
        "target": "Resolution target: {when}",
        "due": "Resolution due: {when}",
        "none": "no date ({note})",
        "footer": "Computed by the SLA service (policy {version}).",
        "check": {
            "low": "Low confidence: no rule matched and the default priority applies. "
            "Please check the priority.",
            "medium": "Medium confidence: rules of another priority also matched. "
            "Please check the priority.",
        },
        "kinds": {
            "standard": "standard",
            "third_party": "depends on a third party ({vendor}): the wait is followed up",
            "operations": "operations: resolution is due at the ETA operations records",
            "billable": "billable: the clock stops while the quote awaits authorisation",
        },
    },
}


def comment_marker(ticket_id: str) -> str:
    """The mark of the assignment comment: a retry looks for it in the ticket's comments before
    posting again (Zoho's answer to a POST may be lost after the comment was stored)."""
    return f"ref:sla-{ticket_id}"


def assignment_comment(
    policy: Policy,
    classification: Classification,
    deadlines: Deadlines,
    lang: str | None = None,
    *,
    marker: str = "",
) -> str:
    """The private comment explaining priority, rule and deadlines (Spanish by default)."""
    lang = lang or policy.language
    words = _COMMENT[lang]
    tz = policy.tz
    names = deadlines.priority.names
    shown = names[0] if lang == "es" else names[-1]

    def when(deadline: Any) -> str:
        if deadline.due is None:
            return str(words["none"]).format(note=deadline.note or "-")
        return format_when(deadline.due, tz, lang)

    kind = str(words["kinds"][classification.kind]).format(vendor=classification.vendor or "-")  # type: ignore[index]
    title = str(words["title"]).format(priority=shown)
    checks: dict[str, str] = words["check"]  # type: ignore[assignment]
    lines = [
        f"{title} [{marker}]" if marker else title,
        str(words["rule"]).format(
            rule=classification.rule_id, description=classification.description
        ),
        str(words["evidence"]).format(evidence="; ".join(classification.evidence)),
        *([str(checks[classification.confidence])] if classification.confidence in checks else []),
        str(words["kind"]).format(kind=kind),
        str(words["calendar"]).format(calendar=deadlines.calendar, tz=tz.key),
        str(words["response"]).format(when=when(deadlines.response)),
        str(words["target"]).format(when=when(deadlines.resolution_target)),
        str(words["due"]).format(when=when(deadlines.resolution_due)),
        str(words["footer"]).format(version=deadlines.policy_version),
    ]
    return "\n".join(lines)


TAGS = {
    "at_risk": "sla-en-riesgo",
    "breached": "sla-vencido",
    "follow_up": "sla-seguimiento-proveedor",
    "eta_reminder": "sla-eta-pendiente",
}

_NOTICE = {
    "es": {
        "at_risk": "[SLA] En riesgo: {what} vence {when}.",
        "breached": "[SLA] Vencido: {what} venció {when}.",
        "follow_up": "[SLA] Seguimiento {n}: el ticket espera a {vendor} desde {since}; "
        "pedir avance al proveedor.",
        "eta_reminder": "[SLA] Recordatorio {n}: operaciones no ha registrado el ETA "
        "(la primera respuesta venció {when}).",
        "response": "la primera respuesta",
        "resolution": "la resolución comprometida",
        "to": "Para el agente asignado.",
    },
    "en": {
        "at_risk": "[SLA] At risk: {what} is due {when}.",
        "breached": "[SLA] Breached: {what} was due {when}.",
        "follow_up": "[SLA] Follow-up {n}: the ticket has waited on {vendor} since {since}; "
        "ask the vendor for progress.",
        "eta_reminder": "[SLA] Reminder {n}: operations has not set the ETA "
        "(the first response was due {when}).",
        "response": "the first response",
        "resolution": "the resolution",
        "to": "For the assigned agent.",
    },
}


def notice_text(
    policy: Policy,
    kind: str,
    deadline: str,
    *,
    due: datetime | None,
    n: int = 0,
    vendor: str = "",
    since: datetime | None = None,
    marker: str = "",
    lang: str | None = None,
) -> str:
    """The private comment (and chat message) of a warning, breach or reminder."""
    words = _NOTICE[lang or policy.language]
    tz = policy.tz
    what = words.get(deadline, deadline)
    line = words[kind].format(
        what=what,
        when=format_when(due, tz, lang or policy.language) if due else "-",
        n=n,
        vendor=vendor or "-",
        since=format_when(since, tz, lang or policy.language) if since else "-",
    )
    return f"{line} {words['to']}" + (f" [{marker}]" if marker else "")
