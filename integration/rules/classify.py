"""Classify a request: the ordered rules of the policy file, first match wins, a default applies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from .policy import Policy, Rule
from .text import keyword_pattern, normalize


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

    @property
    def is_default(self) -> bool:
        return self.rule_id == "default"


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    return keyword_pattern(keyword)


def _first_keyword(keywords: tuple[str, ...], texts: dict[str, str]) -> str | None:
    for keyword in keywords:
        pattern = _pattern(keyword)
        for where, text in texts.items():
            if pattern.search(text):
                return f'{where} contains "{keyword}"'
    return None


def _match(
    rule: Rule, texts: dict[str, str], values: dict[str, tuple[str, ...]]
) -> tuple[str, ...] | None:
    evidence: list[str] = []
    for name, accepted in rule.fields:
        value = next((v for v in values.get(name, ()) if v in accepted), None)
        if value is None:
            return None
        evidence.append(f'{name} = "{value}"')
    if rule.keywords:
        hit = _first_keyword(rule.keywords, texts)
        if hit is None:
            return None
        evidence.append(hit)
    if rule.exclude and _first_keyword(rule.exclude, texts) is not None:
        return None
    return tuple(evidence)


def classify(policy: Policy, request: Request) -> Classification:
    texts = {"subject": normalize(request.subject), "description": normalize(request.description)}
    values = {
        name: tuple(normalize(v) for v in ((raw,) if isinstance(raw, str) else raw) if v)
        for name, raw in request.fields.items()
        if raw
    }
    for rule in policy.rules:
        evidence = _match(rule, texts, values)
        if evidence is not None:
            return Classification(
                priority=rule.priority,
                kind=rule.kind,
                vendor=rule.vendor,
                rule_id=rule.id,
                evidence=evidence,
                description=rule.description,
            )
    return Classification(
        priority=policy.default_priority,
        kind="standard",
        vendor="",
        rule_id="default",
        evidence=("no rule matched",),
        description="default priority of the policy",
    )
