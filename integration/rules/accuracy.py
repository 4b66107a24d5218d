"""Measure classification against a labelled corpus: accuracy per priority and kind, confusion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .classify import Classification, Request, classify
from .policy import Policy

CORPUS_COLUMNS = ("subject", "description", "priority", "kind", "vendor", "note")


@dataclass(frozen=True)
class Example:
    """One labelled phrasing (a row of the corpus CSV)."""

    subject: str
    description: str
    priority: str
    kind: str
    vendor: str = ""
    note: str = ""
    line: int = 0


@dataclass(frozen=True)
class Miss:
    example: Example
    got: Classification


@dataclass
class Evaluation:
    """A label is right when priority, kind and vendor all match."""

    total: int = 0
    right: int = 0
    by_priority: Counter[str] = field(default_factory=Counter)
    right_by_priority: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    right_by_kind: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    misses: list[Miss] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0

    def add(self, example: Example, got: Classification) -> None:
        expected = _label(example.priority, example.kind)
        found = _label(got.priority, got.kind)
        correct = (example.priority, example.kind, example.vendor.casefold()) == (
            got.priority,
            got.kind,
            got.vendor.casefold(),
        )
        self.total += 1
        self.right += correct
        self.by_priority[example.priority] += 1
        self.right_by_priority[example.priority] += correct
        self.by_kind[example.kind] += 1
        self.right_by_kind[example.kind] += correct
        self.confusion[(expected, found)] += 1
        if not correct:
            self.misses.append(Miss(example, got))

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "right": self.right,
            "accuracy": round(self.accuracy, 4),
            "by_priority": _rates(self.by_priority, self.right_by_priority),
            "by_kind": _rates(self.by_kind, self.right_by_kind),
            "confusion": [
                {"expected": e, "got": g, "count": n}
                for (e, g), n in sorted(self.confusion.items())
            ],
            "misses": [
                {
                    "line": m.example.line,
                    "subject": m.example.subject,
                    "expected": _label(m.example.priority, m.example.kind, m.example.vendor),
                    "got": _label(m.got.priority, m.got.kind, m.got.vendor),
                    "rule": m.got.rule_id,
                }
                for m in self.misses
            ],
        }

    def render(self, show_misses: bool = True) -> str:
        lines = [f"accuracy: {self.right}/{self.total} = {self.accuracy:.1%}", "", "by priority:"]
        for name, total in sorted(self.by_priority.items()):
            right = self.right_by_priority[name]
            lines.append(f"  {name:<12} {right:>4}/{total:<4} {right / total:6.1%}")
        lines.append("by kind:")
        for name, total in sorted(self.by_kind.items()):
            right = self.right_by_kind[name]
            lines.append(f"  {name:<12} {right:>4}/{total:<4} {right / total:6.1%}")
        labels = sorted({label for pair in self.confusion for label in pair})
        width = max(len(label) for label in labels) if labels else 8
        lines += ["", "confusion (rows: expected, columns: got):"]
        lines.append(" " * (width + 2) + " ".join(f"{label[:width]:>{width}}" for label in labels))
        for expected in labels:
            row = " ".join(f"{self.confusion[(expected, got)] or '.':>{width}}" for got in labels)
            lines.append(f"  {expected:<{width}}{row}")
        if show_misses and self.misses:
            lines += ["", "misses:"]
            for miss in self.misses:
                example, got = miss.example, miss.got
                lines.append(
                    f"  line {example.line}: {example.subject!r}: expected "
                    f"{_label(example.priority, example.kind, example.vendor)}, got "
                    f"{_label(got.priority, got.kind, got.vendor)} ({got.rule_id})"
                )
        return "\n".join(lines)


def _label(priority: str, kind: str, vendor: str = "") -> str:
    label = priority if kind == "standard" else f"{priority}/{kind}"
    return f"{label}/{vendor}" if vendor else label


def _rates(totals: Counter[str], rights: Counter[str]) -> dict[str, dict[str, float]]:
    return {
        name: {"total": total, "right": rights[name], "accuracy": round(rights[name] / total, 4)}
        for name, total in sorted(totals.items())
    }


def evaluate(policy: Policy, examples: Iterable[Example]) -> Evaluation:
    evaluation = Evaluation()
    for example in examples:
        got = classify(policy, Request(subject=example.subject, description=example.description))
        evaluation.add(example, got)
    return evaluation
