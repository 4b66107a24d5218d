"""Classify a request: the ordered rules of the policy file, first match wins, a default applies.

Rules hold on fields of the ticket and on concepts found in its text (see `concepts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .concepts import Hit, request_body
from .policy import Policy, Rule
from .text import normalize, plain_text


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
) -> tuple[tuple[str, ...] | None, str | None]:
    """The concepts that make the rule hold (empty for a fields-only rule) or None; and the
    concept that vetoed it, when one did."""
    group = next((g for g in rule.when if _group_holds(rule, g, hits)), None)
    if rule.when and group is None:
        return None, None
    veto = next((name for name in rule.unless if name in vetoes), None)
    if veto is not None:
        return None, veto
    return group or (), None


def _group_holds(rule: Rule, group: tuple[str, ...], hits: Mapping[str, Hit]) -> bool:
    if not all(name in hits for name in group):
        return False
    if not rule.together or len(group) < 2:
        return True
    shared = set(hits[group[0]].places)
    for name in group[1:]:
        shared &= hits[name].places
    return bool(shared)


@dataclass
class _Found:
    rule: Rule
    index: int
    evidence: tuple[str, ...]


def _matching(
    policy: Policy,
    hits: Mapping[str, Hit],
    vetoes: Mapping[str, Hit],
    values: dict[str, tuple[str, ...]],
    vetoed: list[tuple[int, str]] | None = None,
) -> list[_Found]:
    found = []
    for index, rule in enumerate(policy.rules):
        evidence = _fields_hold(rule, values)
        if evidence is None:
            continue
        group, veto = _holds(rule, hits, vetoes)
        if veto is not None and vetoed is not None:
            vetoed.append((index, f"{rule.id} held but was set aside by {vetoes[veto]}"))
        if group is None:
            continue
        found.append(_Found(rule, index, (*evidence, *(str(hits[name]) for name in group))))
    return found


def _hits(policy: Policy, where: str, text: str) -> dict[str, Hit]:
    return policy.matcher.find(text, where) if text else {}


def _merge(first: Mapping[str, Hit], second: Mapping[str, Hit]) -> dict[str, Hit]:
    """Hits of two texts: the first text's hit is shown, the places of both are kept."""
    merged = dict(second)
    for name, hit in first.items():
        other = second.get(name)
        merged[name] = hit if other is None else replace(hit, places=hit.places | other.places)
    return merged


def classify(policy: Policy, request: Request) -> Classification:
    """The first rule that holds wins.

    With `subject_first` the subject is read alone first: it says what the customer asks for,
    while a description often tells a story ("last week the site was down; now we want a
    redesign"). The description may still refine the subject's rule toward an earlier rule that
    is no more urgent (the vendor: "el correo está caído" about Zoho Mail; the customer's own
    error: "no puedo enviar" with "contraseña incorrecta"), but never escalate it. Vetoes
    (`unless`) are read in both texts. The description is read up to its sign-off or quoted
    history (`end_markers`) and at most `description_chars` characters."""
    values = {
        name: tuple(normalize(v) for v in ((raw,) if isinstance(raw, str) else raw) if v)
        for name, raw in request.fields.items()
        if raw
    }
    language = policy.language_settings
    body, cut = request_body(request.description, language)
    notes = [f"read the first {language.description_chars} characters of the description"] * cut
    subject_hits = _hits(policy, "subject", plain_text(request.subject))
    all_hits = _merge(subject_hits, _hits(policy, "description", body))
    vetoed: list[tuple[int, str]] = []  # (rule position, why)
    everywhere = _matching(policy, all_hits, all_hits, values, vetoed)
    if policy.subject_first:
        on_subject = _matching(policy, subject_hits, all_hits, values)
        if on_subject:
            chosen = on_subject[0]
            urgency = policy.priorities[chosen.rule.priority].rank
            refined = next(
                (
                    f
                    for f in everywhere
                    if f.index < chosen.index and policy.priorities[f.rule.priority].rank >= urgency
                ),
                None,
            )
            if refined is not None:
                note = f"the description refines the subject's rule {chosen.rule.id}"
                return _decision([refined, *on_subject], [note, *notes], vetoed)
            return _decision(on_subject, notes, vetoed)
    if everywhere:
        return _decision(everywhere, notes, vetoed)
    return Classification(
        priority=policy.default_priority,
        kind="standard",
        vendor="",
        rule_id="default",
        evidence=("no rule matched: please check the priority", *(v for _, v in vetoed), *notes),
        description="default priority of the policy",
        confidence="low",
    )


def _decision(
    found: list[_Found], notes: list[str], vetoed: list[tuple[int, str]]
) -> Classification:
    first = found[0]
    rule = first.rule
    others = [
        f.rule.id for f in found[1:] if (f.rule.priority, f.rule.kind) != (rule.priority, rule.kind)
    ]
    evidence = list(first.evidence)
    if others:
        evidence.append(ALSO_MATCHED + ", ".join(dict.fromkeys(others)))
    # Rules before the winner that a veto set aside: why the ticket is not, say, Urgent.
    evidence += [why for index, why in vetoed if index < first.index]
    return Classification(
        priority=rule.priority,
        kind=rule.kind,
        vendor=rule.vendor,
        rule_id=rule.id,
        evidence=(*evidence, *notes),
        description=rule.description,
        confidence="medium" if others else "high",
    )
