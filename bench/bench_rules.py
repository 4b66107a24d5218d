"""Benchmark: deadlines for 10,000 random tickets, against businesstimedelta.

Tickets: creation instants spread uniformly over 2026 (any second, so many fall outside office
hours), priorities uniformly random, no holds. For each ticket the shipped Ignus policy computes
the three deadlines (`compute_deadlines`, the full function the service uses).

Reference: the same resolution-due additions (office-hours priorities; the 24x7 Urgent ones are
plain clock arithmetic) through businesstimedelta 1.0.1 with a Mon–Fri 08:00–19:00 WorkDayRule
and a HolidayRule fed by holidays.MX. Both must agree on every ticket (same semantics there: the
clock starts at the next opening, a deadline on closing time stays there).

The 10,000 tickets are timed in several passes (`--repeats`); the median pass gives
`tickets_per_s`, the best `tickets_per_s_best`. Prints figures; `--json` prints one JSON object.
Run: `make bench` or `python bench/bench_rules.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime

import businesstimedelta
import holidays

from integration.rules import PriorityChange, TicketHistory, compute_deadlines, load_policy

TZ_NAME = "America/Mexico_City"


def make_tickets(count: int, seed: int) -> list[TicketHistory]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    span = 365 * 86400
    tickets = []
    for _ in range(count):
        created = datetime.fromtimestamp(start + rng.randrange(span), UTC)
        priority = rng.choice(["Urgent", "High", "Medium", "Low"])
        tickets.append(TicketHistory(created, (PriorityChange(created, priority),)))
    return tickets


def bench_ours(policy, tickets: list[TicketHistory], repeats: int) -> tuple[list[float], list]:  # type: ignore[no-untyped-def]
    """Each repeat computes every ticket's deadlines; the times of all repeats are returned."""
    times = []
    results: list = []  # type: ignore[type-arg]
    for _ in range(repeats):
        began = time.perf_counter()
        results = [compute_deadlines(policy, t) for t in tickets]
        times.append(time.perf_counter() - began)
    return times, results


def reference_rules() -> businesstimedelta.Rules:
    from datetime import time as clock

    workday = businesstimedelta.WorkDayRule(
        start_time=clock(8), end_time=clock(19), working_days=[0, 1, 2, 3, 4]
    )
    mexico = holidays.country_holidays("MX", years=range(2025, 2029))
    return businesstimedelta.Rules([workday, businesstimedelta.HolidayRule(mexico)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (median reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    policy = load_policy()
    tickets = make_tickets(args.tickets, args.seed)
    for calendar in policy.calendars.values():  # build the indexes outside the timed part
        calendar.add(datetime(2026, 6, 1, tzinfo=UTC), 1)
    times, results = bench_ours(policy, tickets, args.repeats)
    ours_s = statistics.median(times)

    # The same resolution-due additions, alone, through both libraries.
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TZ_NAME)
    office = policy.calendars["office"]
    work = []
    for ticket, result in zip(tickets, results, strict=True):
        if result.calendar == "office":
            work.append((ticket.created, result.resolution_due.seconds, result.resolution_due.due))

    began = time.perf_counter()
    ours_due = [office.add(created, seconds) for created, seconds, _ in work]
    ours_add_s = time.perf_counter() - began

    rules = reference_rules()
    began = time.perf_counter()
    reference_due = [
        created.astimezone(tz).replace(tzinfo=None)
        + businesstimedelta.BusinessTimeDelta(rules, seconds=int(seconds))
        for created, seconds, _ in work
    ]
    reference_s = time.perf_counter() - began

    disagreements = 0
    for (_, _, full), ours, ref in zip(work, ours_due, reference_due, strict=True):
        mine = ours.astimezone(tz).replace(tzinfo=None)
        if mine != ref.replace(tzinfo=None) or full != ours:
            disagreements += 1

    figures = {
        "tickets": len(tickets),
        "repeats": args.repeats,
        "seconds_median": round(ours_s, 4),
        "tickets_per_s": round(len(tickets) / ours_s),
        "tickets_per_s_best": round(len(tickets) / min(times)),
        "us_per_ticket": round(ours_s / len(tickets) * 1e6, 2),
        "resolution_additions_compared": len(work),
        "our_additions_per_s": round(len(work) / ours_add_s),
        "businesstimedelta_additions_per_s": round(len(work) / reference_s),
        "ratio_vs_businesstimedelta": round(reference_s / ours_add_s, 1),
        "disagreements": disagreements,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:36} {value}")
    if disagreements:
        raise SystemExit(f"{disagreements} deadlines disagree with businesstimedelta")


if __name__ == "__main__":
    main()
