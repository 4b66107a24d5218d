"""The report as one self-contained HTML file a lead can send to management or a customer.

No external reference of any kind (no scripts, stylesheets, fonts or images fetched): the style
is inline CSS with system fonts, the charts inline SVG (bars with a `<title>` each, read as a
tooltip without a script). Every value that comes from tickets (subjects, account ids, vendors,
rule ids) is escaped.
"""

from __future__ import annotations

from datetime import date
from html import escape

from .compile import GroupFigures, Report
from .labels import words
from .render import COLUMNS, cell, header_lines, when

# One colour per priority, most urgent first (more priorities reuse the last one)
PRIORITY_COLOURS = ("#c0392b", "#e67e22", "#2e86c1", "#7f8c8d")
BAR_COLOUR = "#2e86c1"
BREACH_COLOUR = "#c0392b"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2em;
color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}
.meta{color:#555;margin:.1em 0}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f2f4f7}tr.total td{font-weight:bold;background:#fafafa}
td.text{text-align:left}
.kpis{display:flex;gap:1em;flex-wrap:wrap}
.kpi{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}
.kpi b{display:block;font-size:1.4em}
.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
svg text{font-size:11px;fill:#333}
.note{color:#555;font-size:.85em}
"""


def _colour(index: int) -> str:
    return PRIORITY_COLOURS[min(index, len(PRIORITY_COLOURS) - 1)]


def _svg_open(chart_id: str, width: int, height: int, label: str) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
    )


def weekly_chart(report: Report, lang: str) -> str:
    """Grouped bars: per week, one bar per priority with a decided ticket that week."""
    said = words(lang)
    left, top, plot_h, bar_w, gap = 40, 10, 160, 14, 18
    n = len(report.priorities)
    group_w = n * bar_w + gap
    width = left + max(len(report.weeks), 1) * group_w + 10
    height = top + plot_h + 40
    points = {(p.week, p.priority): p for p in report.weekly}
    parts = [_svg_open("chart-weekly", width, height, said["chart_weekly"])]
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h - pct * plot_h / 100
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{pct}</text>'
        )
    for w, week in enumerate(report.weeks):
        x0 = left + w * group_w + gap / 2
        for i, (key, name) in enumerate(report.priorities):
            point = points.get((week, key))
            if point is None or point.met_pct is None:
                continue
            h = point.met_pct * plot_h / 100
            title = (
                f"{name}, {said['week_of']} {_day(week)}: "
                f"{point.met_pct}% ({point.met}/{point.decided})"
            )
            parts.append(
                f'<rect class="bar" data-week="{week.isoformat()}" data-priority="{escape(key)}" '
                f'data-value="{point.met_pct}" x="{x0 + i * bar_w:.1f}" '
                f'y="{top + plot_h - h:.1f}" width="{bar_w - 2}" height="{max(h, 0.5):.1f}" '
                f'fill="{_colour(i)}"><title>{escape(title)}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + n * bar_w / 2:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{_day(week)}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{_colour(i)}"></i>{escape(name)}</span>'
        for i, (_, name) in enumerate(report.priorities)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _day(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}"


def bar_chart(chart_id: str, label: str, values: dict[str, float], colour: str, unit: str) -> str:
    """Horizontal bars, one per key, longest first as given."""
    if not values:
        return f'<p class="note" id="{chart_id}-empty">{escape(label)}: -</p>'
    label_w, bar_max, row_h = 220, 420, 22
    width, height = label_w + bar_max + 80, len(values) * row_h + 10
    biggest = max(values.values()) or 1.0
    parts = [_svg_open(chart_id, width, height, label)]
    for i, (key, value) in enumerate(values.items()):
        y = 5 + i * row_h
        length = value * bar_max / biggest
        shown = cell(value)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(_short(key))}</text>'
            f'<rect class="bar" data-key="{escape(key)}" data-value="{value}" x="{label_w}" '
            f'y="{y}" width="{max(length, 0.5):.1f}" height="{row_h - 6}" fill="{colour}">'
            f"<title>{escape(key)}: {shown} {unit}</title></rect>"
            f'<text x="{label_w + length + 4:.1f}" y="{y + 14}">{shown} {unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, most: int = 34) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _group_row(group: GroupFigures, css: str = "") -> str:
    values = group.as_dict()
    cells = "".join(f"<td>{escape(cell(values[c[0]]))}</td>" for c in COLUMNS)
    attribute = f' class="{css}"' if css else ""
    return f'<tr{attribute}><td class="text">{escape(group.label)}</td>{cells}</tr>'


def render_html(report: Report, lang: str) -> str:
    said = words(lang)
    title, period_line, by_line, generated_line = header_lines(report, lang)
    t = report.totals
    kpis = [
        (said["tickets"], cell(t.tickets)),
        (said["response_met_pct"], cell(t.response_met_pct)),
        (said["resolution_met_pct"], cell(t.resolution_met_pct)),
        (said["target_met_pct"], cell(t.target_met_pct)),
        (said["breached"], cell(t.breached)),
        (said["eta_renegotiations"], cell(t.eta_renegotiations)),
        (said["overrides"], f"{t.overrides} ({cell(t.override_pct)} %)"),
    ]
    head = "".join(f"<th>{escape(said[c[0]])}</th>" for c in COLUMNS)
    rows = "".join(_group_row(g) for g in report.groups) + _group_row(t, "total")
    breached = "".join(
        "<tr>"
        f'<td class="text">#{escape(r.number or r.ticket_id)}</td>'
        f'<td class="text">{escape(r.subject)}</td>'
        f'<td class="text">{escape(dict(report.priorities).get(r.priority, r.priority))}</td>'
        f'<td class="text">{escape(r.rule_id)}</td>'
        f'<td class="text">{escape(_which(r.response_state, r.resolution_state, lang))}</td>'
        f'<td class="text">{escape(when(report, r.created_at, lang))}</td>'
        "</tr>"
        for r in report.breached_tickets
    )
    breached_table = (
        f"<table><thead><tr><th>{said['ticket']}</th><th>{said['subject']}</th>"
        f"<th>{said['priority']}</th><th>{said['rule']}</th><th>{said['deadline']}</th>"
        f"<th>{said['created']}</th></tr></thead>"
        f"<tbody>{breached}</tbody></table>"
        if breached
        else f'<p class="note">{escape(said["none"])}</p>'
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{lang}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)} {report.period.first.isoformat()} – "
            f"{report.period.last.isoformat()}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{escape(period_line)}</p>',
            f'<p class="meta">{escape(by_line)}</p>',
            f'<p class="meta">{escape(generated_line)}</p>',
            f"<h2>{escape(said['summary'])}</h2>",
            '<div class="kpis">'
            + "".join(f'<div class="kpi">{escape(k)}<b>{escape(v)}</b></div>' for k, v in kpis)
            + "</div>",
            f'<table id="groups"><thead><tr><th>{escape(said["group"])}</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>",
            f"<h2>{escape(said['chart_weekly'])}</h2>",
            weekly_chart(report, lang),
            f'<p class="note">{escape(said["chart_weekly_note"])}</p>',
            f"<h2>{escape(said['chart_breaches'])}</h2>",
            bar_chart(
                "chart-breaches",
                said["chart_breaches"],
                {k: float(v) for k, v in report.breaches_by_rule.items()},
                BREACH_COLOUR,
                "",
            ),
            f"<h2>{escape(said['chart_vendors'])}</h2>",
            bar_chart(
                "chart-vendors", said["chart_vendors"], dict(report.vendor_wait_h), BAR_COLOUR, "h"
            ),
            f"<h2>{escape(said['breached_tickets'])}</h2>",
            breached_table,
            f"<h2>{escape(said['definitions'])}</h2>",
            f'<p class="note">{escape(said["definitions_text"])}</p>',
            "</body></html>",
            "",
        ]
    )


def _which(response: str, resolution: str, lang: str) -> str:
    said = words(lang)
    named = [
        said[name]
        for name, state in (("response", response), ("resolution", resolution))
        if state == "breached"
    ]
    return ", ".join(named)
