"""Benchmark: classification by concepts, on the labelled corpus and on long descriptions.

Three workloads, each timed in several passes (`--repeats`; median and best printed):
- `corpus_warm`: every row of `corpus/classification/*.csv` (subject and description as labelled),
  with the stem caches warm, as in a long-running worker;
- `corpus_cold`: the same rows on a freshly loaded policy each pass (empty caches: the first
  tickets after a start);
- `long_unseen`: tickets whose description is `description_chars` long (3,000 characters: the
  most the classifier reads) made of corpus words with random suffixes, so nearly every word is
  new to the caches (the worst case: every word stemmed and looked up for typos).

Zoho Desk fires at most a few events per second for a portal this size; the figure to watch is
classifications per second, which must stay orders of magnitude above that.
Prints figures; `--json` prints one JSON object.
Run: `make bench` or `python bench/bench_classify.py`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path

from integration.corpus import read_corpus
from integration.rules import Request, classify, load_policy
from integration.rules.accuracy import evaluate

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "classification"


def requests_of_corpus(policy) -> list[Request]:  # type: ignore[no-untyped-def]
    rows = [e for path in sorted(CORPUS.glob("*.csv")) for e in read_corpus(path, policy)]
    return [Request(subject=e.subject, description=e.description) for e in rows]


def long_unseen(requests: list[Request], count: int, chars: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    words = " ".join(f"{r.subject} {r.description}" for r in requests).split()
    made = []
    for _ in range(count):
        text: list[str] = []
        while sum(len(w) + 1 for w in text) < chars:
            word = rng.choice(words)
            text.append(word + rng.choice("abcdefghijklmnopqrstuvwxyz") * rng.randint(1, 2))
        made.append(Request(subject=rng.choice(requests).subject, description=" ".join(text)))
    return made


def timed(passes: int, run) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(passes):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return times


def figures(name: str, count: int, times: list[float]) -> dict[str, float | int | str]:
    median, best = statistics.median(times), min(times)
    return {
        "workload": name,
        "tickets": count,
        "per_s": round(count / median),
        "per_s_best": round(count / best),
        "us_per_ticket": round(median / count * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long", type=int, default=200, help="long tickets (default 200)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    policy = load_policy()
    corpus = requests_of_corpus(policy)
    for request in corpus:  # warm the caches
        classify(policy, request)
    results = [
        figures(
            "corpus_warm",
            len(corpus),
            timed(args.repeats, lambda: [classify(policy, r) for r in corpus]),
        )
    ]

    def cold() -> None:
        fresh = load_policy()
        for request in corpus:
            classify(fresh, request)

    results.append(figures("corpus_cold", len(corpus), timed(args.repeats, cold)))
    chars = policy.language_settings.description_chars
    unseen = long_unseen(corpus, args.long, chars, seed=7)
    fresh = load_policy()
    fresh.matcher  # noqa: B018 (compiled outside the timing)
    results.append(
        figures(
            "long_unseen",
            len(unseen),
            timed(1, lambda: [classify(fresh, r) for r in unseen]),
        )
    )
    tuning = evaluate(policy, read_corpus(CORPUS / "tuning.csv", policy))
    holdout = evaluate(policy, read_corpus(CORPUS / "holdout.csv", policy))
    load_times = timed(args.repeats, lambda: load_policy().matcher)
    report = {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}",
        "workloads": results,
        "policy_load_ms": round(statistics.median(load_times) * 1000, 1),
        "accuracy_tuning": round(tuning.accuracy, 4),
        "accuracy_holdout": round(holdout.accuracy, 4),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"classification benchmark ({report['machine']})")
    for r in results:
        print(
            f"  {r['workload']:<12} {r['tickets']:>5} tickets: {r['per_s']:>7}/s "
            f"(best {r['per_s_best']}/s), {r['us_per_ticket']} us per ticket"
        )
    print(f"  loading the policy and compiling its concepts: {report['policy_load_ms']} ms")
    print(
        f"  accuracy: tuning {tuning.right}/{tuning.total} = {tuning.accuracy:.1%}, "
        f"hold-out {holdout.right}/{holdout.total} = {holdout.accuracy:.1%}"
    )


if __name__ == "__main__":
    main()
