"""The compliance report: per-ticket figures stored by the ledger (`figures.py` reads them),
grouped and aggregated (`compile.py`, pure), rendered as a table, CSV, JSON or one
self-contained HTML file (`render.py`, `html.py`); `monthly.py` is the clock's monthly run."""

from .compile import GROUPINGS, Period, Report, TicketRow, compile_report
from .figures import load_rows, month_period, previous_month, report_for
from .html import render_html
from .labels import LANGS
from .render import render_csv, render_json, render_table

FORMATS = ("table", "csv", "json", "html")

__all__ = [
    "FORMATS",
    "GROUPINGS",
    "LANGS",
    "Period",
    "Report",
    "TicketRow",
    "compile_report",
    "load_rows",
    "month_period",
    "previous_month",
    "render_csv",
    "render_html",
    "render_json",
    "render_table",
    "report_for",
]
