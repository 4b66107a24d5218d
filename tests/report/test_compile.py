"""Grouping and aggregation of the report (pure): percentages over decided tickets only,
medians and nearest-rank p90, the weeks of a period, and labels from tickets kept as text."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from integration.report import Period, TicketRow, compile_report, render_csv
from integration.report.compile import Labels, p90

MEXICO = ZoneInfo("America/Mexico_City")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), MEXICO)
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
LABELS = Labels(priorities=[("Urgent", "Urgente"), ("High", "Alta")])


def row(ticket_id: str, **changes: object) -> TicketRow:
    base = TicketRow(
        ticket_id=ticket_id,
        number=ticket_id,
        subject="s",
        created_at=datetime(2026, 11, 3, 15, 0, tzinfo=UTC),  # Tue 3 Nov 09:00 local
        priority="High",
        kind="standard",
        vendor="",
        rule_id="r",
        account_id="",
        closed_at=None,
        response_state="running",
        resolution_state="running",
        response_business_s=None,
        resolution_business_s=None,
        paused_s=0,
        eta_changes=0,
        vendor_waits={},
        resolution_target=None,
        overridden=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_weeks_are_monday_to_sunday_clipped_to_the_period() -> None:
    assert NOVEMBER.weeks() == [
        date(2026, 11, 1),  # Sunday 1 Nov: a week of one day
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    assert NOVEMBER.start == datetime(2026, 11, 1, tzinfo=MEXICO)
    assert NOVEMBER.end == datetime(2026, 12, 1, tzinfo=MEXICO)


def test_p90_is_the_nearest_rank() -> None:
    assert p90([5.0]) == 5.0
    assert p90([float(v) for v in range(1, 11)]) == 9.0  # ceil(0.9 * 10) = the 9th
    assert p90([float(v) for v in range(1, 12)]) == 10.0  # ceil(9.9) = the 10th
    assert p90([]) is None


def test_undecided_tickets_make_no_percentage() -> None:
    report = compile_report([row("1"), row("2")], NOVEMBER, "priority", LABELS, NOW)
    [high] = report.groups
    assert (high.tickets, high.open, high.response_met_pct, high.resolution_met_pct) == (
        2,
        2,
        None,
        None,
    )
    assert report.weekly == []


def test_met_percentages_count_decided_tickets_only() -> None:
    closed = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    rows = [
        row("1", response_state="met", response_business_s=1800),
        row("2", response_state="breached", response_business_s=7200, resolution_state="breached"),
        row(
            "3",
            response_state="met",
            response_business_s=3600,
            resolution_state="met",
            closed_at=closed,
            resolution_target=closed,  # closed at its target: met
        ),
        row("4", priority="Urgent", overridden=True),
    ]
    report = compile_report(rows, NOVEMBER, "priority", LABELS, NOW)
    urgent, high = report.groups
    assert (urgent.label, high.label) == ("Urgente", "Alta")
    assert high.response_met_pct == 66.7  # 2 of 3
    assert high.resolution_met_pct == 50.0  # 1 of 2 (ticket 1 is undecided)
    assert (high.target_met, high.target_missed) == (1, 1)  # past its due: the target too
    assert (high.response_median_h, high.response_p90_h) == (1.0, 2.0)
    assert high.breached == 1
    assert (report.totals.overrides, report.totals.override_pct) == (1, 25.0)
    [point] = report.weekly
    assert (point.week, point.decided, point.met) == (date(2026, 11, 2), 3, 2)


def test_labels_from_tickets_do_not_become_spreadsheet_formulas() -> None:
    rows = [row("1", account_id="=HYPERLINK(1)"), row("2", account_id="")]
    report = compile_report(rows, NOVEMBER, "account", LABELS, NOW)
    parsed = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["label"] for r in parsed] == ["'=HYPERLINK(1)", "(none)", "Total"]
