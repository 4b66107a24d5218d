"""Classify a request: the ordered rules of the policy file, first match wins, a default applies.

Rules hold on fields of the ticket and on concepts found in its text (see `concepts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .concepts import Hit
from .policy import Policy, Rule
from .text import normalize


@dataclass(frozen=True)
class Request:
    """The ticket fields classification looks at (Zoho names; custom fields by API name)."""

    subject: str = ""
    description: str = ""
    # A field may carry several values (a department's id and its name): any of them matches.
    fields: Mapping[str, str | tuple[str, ...] | None] = field(default_factory=dict)

    @classmethod
    def from_ticket(cls, ticket: Mapping[str, object]) -> Request:
        """From a Zoho ticket object (`GET /tickets/{id}` or a webhook payload)."""
        found: dict[str, str | tuple[str, ...] | None] = {}
        for name in ("category", "subCategory", "classification", "channel"):
            found[name] = _text(ticket.get(name))
        for name in ("product", "department", "account"):
            values = (_text(ticket.get(f"{name}Id")), _name(ticket.get(name)))
            found[name] = tuple(v for v in values if v)
        custom = ticket.get("cf")
        if isinstance(custom, Mapping):
            found.update({str(k): _text(v) for k, v in custom.items()})
        return cls(
            subject=_text(ticket.get("subject")) or "",
            description=_text(ticket.get("description")) or "",
            fields=found,
        )


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _name(value: object) -> str | None:
    if isinstance(value, Mapping):
        return _text(value.get("name") or value.get("productName") or value.get("accountName"))
    return None


@dataclass(frozen=True)
class Classification:
    priority: str
    kind: str
    vendor: str
    rule_id: str
    evidence: tuple[str, ...]
    description: str = ""
    # "high": one rule (or rules agreeing on priority and kind) matched; "medium": rules that
    # disagree matched and the first won; "low": nothing matched, the default applies.
    confidence: str = "high"

    @property
    def is_default(self) -> bool:
        return self.rule_id == "default"


ALSO_MATCHED = "also matched: "


def confidence_of(rule_id: str, evidence: tuple[str, ...]) -> str:
    """The confidence of a stored classification (its rule and evidence)."""
    if rule_id == "default":
        return "low"
    return "medium" if any(e.startswith(ALSO_MATCHED) for e in evidence) else "high"


def _fields_hold(rule: Rule, values: dict[str, tuple[str, ...]]) -> list[str] | None:
    evidence = []
    for name, accepted in rule.fields:
        value = next((v for v in values.get(name, ()) if v in accepted), None)
        if value is None:
            return None
        evidence.append(f'{name} = "{value}"')
    return evidence


def _holds(
    rule: Rule, hits: Mapping[str, Hit], vetoes: Mapping[str, Hit]
) -> tuple[str, ...] | None:
    """The concepts that make the rule hold (empty for a fields-only rule), or None."""
    if any(name in vetoes for name in rule.unless):
        return None
    if not rule.when:
        return ()
    for group in rule.when:
        if all(name in hits for name in group):
            return group
    return None


def _matching(
    policy: Policy,
    hits: Mapping[str, Hit],
    vetoes: Mapping[str, Hit],
    values: dict[str, tuple[str, ...]],
) -> list[tuple[Rule, tuple[str, ...]]]:
    found = []
    for rule in policy.rules:
        evidence = _fields_hold(rule, values)
        if evidence is None:
            continue
        group = _holds(rule, hits, vetoes)
        if group is None:
            continue
        found.append((rule, (*evidence, *(str(hits[name]) for name in group))))
    return found


def _hits(policy: Policy, texts: Mapping[str, str]) -> dict[str, Hit]:
    hits: dict[str, Hit] = {}
    for where, text in texts.items():
        for name, hit in policy.matcher.find(text, where).items():
            hits.setdefault(name, hit)
    return hits


def classify(policy: Policy, request: Request) -> Classification:
    """The first rule that holds wins. With `subject_first`, the subject is read alone first: it
    says what the customer asks for, while a description often tells a story ("last week the site
    was down; now we want a redesign"). When nothing holds on the subject, both are read. Vetoes
    (`unless`) are read in both texts in either pass."""
    values = {
        name: tuple(normalize(v) for v in ((raw,) if isinstance(raw, str) else raw) if v)
        for name, raw in request.fields.items()
        if raw
    }
    description = request.description[: policy.language_settings.description_chars]
    subject_hits = _hits(policy, {"subject": request.subject})
    all_hits = {**_hits(policy, {"description": description}), **subject_hits}
    passes = [subject_hits] if policy.subject_first else []
    passes.append(all_hits)
    for hits in passes:
        # A veto counts wherever it is: "¿por qué se cayó mi sitio?" with "ya funciona" below.
        found = _matching(policy, hits, all_hits, values)
        if found:
            return _decision(found)
    return Classification(
        priority=policy.default_priority,
        kind="standard",
        vendor="",
        rule_id="default",
        evidence=("no rule matched: please check the priority",),
        description="default priority of the policy",
        confidence="low",
    )


def _decision(found: list[tuple[Rule, tuple[str, ...]]]) -> Classification:
    rule, evidence = found[0]
    others = [r.id for r, _ in found[1:] if (r.priority, r.kind) != (rule.priority, rule.kind)]
    if others:
        evidence = (*evidence, ALSO_MATCHED + ", ".join(others))
    return Classification(
        priority=rule.priority,
        kind=rule.kind,
        vendor=rule.vendor,
        rule_id=rule.id,
        evidence=evidence,
        description=rule.description,
        confidence="medium" if others else "high",
    )
