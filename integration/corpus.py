"""The classification corpus as CSV files (`corpus/classification/`): read for `sla classify
--eval`, written by `sla overrides --export` so agents' corrections can be reviewed and merged."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from .rules.accuracy import CORPUS_COLUMNS, Example
from .rules.policy import KINDS, Policy, PolicyError


class CorpusError(ValueError):
    """A corpus file is wrong; the message names the file and the line."""


def read_corpus(path: str | Path, policy: Policy) -> list[Example]:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{source}: no such file") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{source}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("subject", "priority") if c not in (reader.fieldnames or ())]
    if missing:
        columns = ", ".join(CORPUS_COLUMNS)
        raise CorpusError(f"{source}: the header lacks {', '.join(missing)} (columns: {columns})")
    examples = []
    for row in reader:
        line = reader.line_num
        try:
            priority = policy.priority((row.get("priority") or "").strip()).key
        except PolicyError as exc:
            raise CorpusError(f"{source}:{line}: {exc}") from None
        kind = (row.get("kind") or "standard").strip() or "standard"
        if kind not in KINDS:
            raise CorpusError(f'{source}:{line}: kind "{kind}" is not one of {", ".join(KINDS)}')
        examples.append(
            Example(
                subject=row.get("subject") or "",
                description=row.get("description") or "",
                priority=priority,
                kind=kind,
                vendor=(row.get("vendor") or "").strip(),
                note=row.get("note") or "",
                line=line,
            )
        )
    if not examples:
        raise CorpusError(f"{source}: no examples")
    return examples


def write_corpus(path: str | Path, rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CORPUS_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in CORPUS_COLUMNS})
            count += 1
    return count
