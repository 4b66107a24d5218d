"""The clock's monthly report: on the 1st (from `REPORT_HOUR`, policy time zone) the previous
month's HTML report is written to `REPORT_DIR` and its summary posted to
`REPORT_CHAT_WEBHOOK_URL`.

Once per month across restarts: each of the two deliveries records the month it delivered in a
`cursors` row of its own, after it succeeded, so a failed one is tried again at the next run
and a delivered one never again. Writing the file is idempotent (the same name, replaced
atomically); a chat post that succeeded but whose record was lost with the process (killed
between the two) is the one case that could repeat. A clock that was down on the 1st delivers
when it runs again (only the latest finished month). The chat is not Zoho: it is posted in
dry-run too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .. import db
from ..models import Cursor
from .compile import Period, Report
from .figures import previous_month, report_for
from .html import render_html
from .labels import words
from .render import cell

log = logging.getLogger(__name__)

FILE_CURSOR = "report:monthly:file"
CHAT_CURSOR = "report:monthly:chat"
CHAT_TIMEOUT_S = 10.0
CHECK_EVERY_S = 600  # the clock job's interval: the report goes out within 10 min of the hour


@dataclass(frozen=True)
class MonthlyResult:
    period: Period | None
    written: Path | None = None
    posted: bool = False


def report_file(folder: str, period: Period) -> Path:
    return Path(folder) / f"sla-report-{period.first:%Y-%m}.html"


def due_period(now: datetime, tz: Any, hour: int) -> Period | None:
    """The month to report at `now`: the previous one, from `hour` of the 1st on."""
    local = now.astimezone(tz)
    if local.day == 1 and local.hour < hour:
        return None
    return previous_month(now, tz)


def _delivered(container: Any, name: str, period: Period) -> bool:
    with container.sessions() as session:
        cursor = session.get(Cursor, name)
        return cursor is not None and cursor.at >= period.start


def _record(container: Any, name: str, period: Period) -> None:
    now = container.clock()
    with db.transaction(container.sessions) as session:
        cursor = session.get(Cursor, name, with_for_update=True)
        if cursor is None:
            session.add(Cursor(name=name, at=period.start, updated_at=now))
        elif cursor.at < period.start:
            cursor.at = period.start
            cursor.updated_at = now


def summary(report: Report, lang: str, where: Path | None) -> str:
    said = words(lang)
    t = report.totals
    period = f"{report.period.first.isoformat()} – {report.period.last.isoformat()}"
    parts = [
        f"[SLA] {said['title']} {period}: {t.tickets} {said['tickets'].lower()}",
        f"{said['response_met_pct']}: {cell(t.response_met_pct)}",
        f"{said['resolution_met_pct']}: {cell(t.resolution_met_pct)}",
        f"{said['target_met_pct']}: {cell(t.target_met_pct)}",
        f"{said['breached']}: {t.breached}",
    ]
    text = "; ".join(parts)
    return f"{text}. {where}" if where is not None else text


def _write(path: Path, text: str) -> None:
    """Replace the file at once: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def monthly_report_once(container: Any) -> MonthlyResult:
    """Deliver the previous month's report if it is due and not delivered yet."""
    settings = container.settings
    url = settings.report_chat_webhook_url.reveal()
    if not settings.report_dir and not url:
        return MonthlyResult(None)
    now = container.clock()
    period = due_period(now, container.policy.tz, settings.report_hour)
    if period is None:
        return MonthlyResult(None)
    want_file = bool(settings.report_dir) and not _delivered(container, FILE_CURSOR, period)
    want_chat = bool(url) and not _delivered(container, CHAT_CURSOR, period)
    if not want_file and not want_chat:
        return MonthlyResult(period)
    lang = settings.report_lang
    report = report_for(
        db.read_only(container.sessions), container.policy, period, by="priority", lang=lang,
        now=now,
    )  # fmt: skip
    path = report_file(settings.report_dir, period) if settings.report_dir else None
    written = None
    if want_file and path is not None:
        try:
            _write(path, render_html(report, lang))
        except OSError as exc:
            log.warning("monthly report not written to %s: %s", path, exc.strerror or exc)
        else:
            _record(container, FILE_CURSOR, period)
            written = path
            log.info("monthly report of %s written to %s", period.first.isoformat()[:7], path)
    posted = False
    if want_chat:
        shown = path if path is not None and path.exists() else None
        posted = _post(url, summary(report, lang, shown))
        if posted:
            _record(container, CHAT_CURSOR, period)
    return MonthlyResult(period, written, posted)


def _post(url: str, text: str) -> bool:
    try:
        response = requests.post(url, json={"text": text}, timeout=CHAT_TIMEOUT_S)
    except requests.RequestException as exc:
        log.warning("monthly report: chat webhook failed (%s)", type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("monthly report: chat webhook answered %s", response.status_code)
        return False
    return True
