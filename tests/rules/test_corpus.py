"""The labelled corpus (`corpus/classification/`) holds the classifier to the policy.

`tuning.csv` is what the concepts were written against; `holdout.csv` was written independently and
not read while they were written, so its figure says how the classifier does on unseen wording.
Both together must stay at 95 % or more; the hold-out part alone must not fall below the figure
first measured on it (92.5 %, 135 of 146), less a small margin for wording added later.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.corpus import CorpusError, read_corpus
from integration.rules.accuracy import evaluate
from tests.rules.helpers import POLICY

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "classification"


def test_the_tuning_corpus_is_at_95_percent() -> None:
    examples = read_corpus(CORPUS / "tuning.csv", POLICY)
    assert len(examples) >= 230
    result = evaluate(POLICY, examples)
    assert result.accuracy >= 0.95, result.render()


def test_the_whole_corpus_is_at_95_percent() -> None:
    examples = [
        *read_corpus(CORPUS / "tuning.csv", POLICY),
        *read_corpus(CORPUS / "holdout.csv", POLICY),
    ]
    assert len(examples) >= 300
    result = evaluate(POLICY, examples)
    assert result.accuracy >= 0.95, result.render(show_misses=False)


def test_the_holdout_corpus_does_not_regress() -> None:
    result = evaluate(POLICY, read_corpus(CORPUS / "holdout.csv", POLICY))
    assert result.accuracy >= 0.90, result.render(show_misses=False)


def test_every_kind_and_priority_is_represented() -> None:
    examples = read_corpus(CORPUS / "tuning.csv", POLICY)
    assert {e.priority for e in examples} == {"Urgent", "High", "Medium", "Low"}
    assert {e.kind for e in examples} == {"standard", "third_party", "operations", "billable"}


def test_a_corpus_row_with_an_unknown_priority_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,description,priority,kind\nhola,,Critica,standard\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad.csv:2: unknown priority \"Critica\""):
        read_corpus(bad, POLICY)
