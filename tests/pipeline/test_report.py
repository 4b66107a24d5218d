"""The compliance report of a seeded month: November 2026, twelve fixture tickets fed through the
real pipeline (webhooks, worker, ledger, write-back to the fake Zoho, the clock's sweeps) with
the clock moved, then `report` run through the CLI in all four formats.

Policy: the shipped Ignus policy. Office hours Monday–Friday 08:00–19:00 America/Mexico_City
(a day = 11 business hours; Monday 16 Nov 2026 is a statutory holiday, no hand-checked ticket
spans it); Urgent runs 24x7. Targets: Urgent response 15 min, resolution 2 h; High response 1 h,
resolution target 1 day / due 3 days; Medium response 1 day, target 2 / due 5 days; Low response
1 day, target 5 / due 10 days. All times below are Mexico City local times.

The tickets (created in November unless said otherwise):

| id  | created         | subject: classification  | acct | what happens                     |
|-----|-----------------|--------------------------|------|----------------------------------|
| T0  | Fri 30 Oct      | spam attack: High        | A    | created in October: left out     |
| T1  | Tue 3 09:00     | spam attack: High        | A    | reply 09:30, closed Wed 4 10:00  |
| T2  | Sat 7 10:00     | server down: Urgent      | B    | reply 10:10, closed 11:40        |
| T3  | Thu 5 10:00     | Outlook signature: Low   | A    | reply Fri 6 09:00, closed Mon 9  |
| T4  | Mon 9 10:00     | spam attack: High        | B    | reply 11:30 (late), closed Tue   |
| T5  | Tue 10 09:00    | shop work: operations    | A    | ETA set, moved twice, closed     |
| T6  | Wed 11 09:00    | DNS: Medium              | B    | on hold 22 h, closed Thu 12      |
| T7  | Tue 17 10:00    | Zoho licence: 3rd party  | B    | waits on Zoho 28 h, closed       |
| T8  | Wed 18 09:00    | Axenda licence: 3rd party| A    | waits on Axenda 24 h, open       |
| T9  | Thu 19 10:00    | spam attack: High        | A    | agent sets Low; closed Fri 20    |
| T10 | Mon 23 10:00    | server down: Urgent      | A    | closed 13:00: resolution late    |
| T11 | Fri 27 10:00    | DNS: Medium              | B    | never answered: open, breached   |
| T12 | Tue 24 10:00    | spam attack: High        | B    | deleted in Zoho: left out        |
| T13 | Tue 1 Dec 07:30 | spam attack: High        | A    | created in December: left out    |

The report runs on Tuesday 1 December 2026 08:00, after the clock's sweep.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from integration.cli import main
from integration.clock.sweep import sweep_once
from integration.zoho.fake_server import event
from tests.pipeline.conftest import Service, mx

SPAM = "Ataque masivo de SPAM"
DOWN = "Se cayó el servidor"
SIGNATURE = "Configurar firma de correo en Outlook"
IMPROVEMENT = "Mejoras y nueva funcionalidad en la tienda"
DNS = "Actualizar registros DNS del dominio"
ZOHO = "Licencia de Zoho One"
AXENDA = "Licencia de Axenda"
A, B = "acct-A", "acct-B"
HOSTILE = '<script>alert("x")</script>'  # a subject as a customer may write it


def zoho_time(local: str) -> str:
    """A local time as Zoho writes instants (`2026-11-13T18:00:00.000Z` style, in UTC)."""
    return mx(local).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Month:
    """Drives the service through the month: each step at its instant, then the clock's sweep
    and the worker, as the running service would."""

    def __init__(self, service: Service) -> None:
        self.s = service
        self.ids: dict[str, str] = {}

    def at(self, when: str) -> Month:
        self.s.clock.set(mx(when))
        sweep_once(self.s.container)
        self.s.work()
        return self

    def add(self, name: str, subject: str, account: str, **fields: Any) -> None:
        ticket = self.s.add(subject=subject, accountId=account, **fields)
        self.ids[name] = ticket["id"]
        self.s.work()

    def reply(self, name: str) -> None:
        self.s.agent_reply(self.ids[name])
        self.s.work()

    def update(self, name: str, **fields: Any) -> None:
        self.s.agent_update(self.ids[name], **fields)
        self.s.work()

    def delete(self, name: str) -> None:
        self.s.desk.delete_ticket(self.ids[name])
        self.s.deliver(event("Ticket_Delete", {"id": self.ids[name]}, self.s.desk.org_id))
        self.s.work()


@pytest.fixture
def november(service: Service) -> dict[str, str]:
    m = Month(service)
    m.at("2026-10-30 10:00").add("T0", SPAM, A)
    m.at("2026-10-30 10:30").reply("T0")
    m.at("2026-11-03 09:00").add("T1", SPAM, A)
    m.at("2026-11-03 09:30").reply("T1")
    m.at("2026-11-04 10:00").update("T1", status="Closed")
    m.at("2026-11-05 10:00").add("T3", SIGNATURE, A)
    m.at("2026-11-06 09:00").reply("T3")
    m.at("2026-11-07 10:00").add("T2", DOWN, B)
    m.at("2026-11-07 10:10").reply("T2")
    m.at("2026-11-07 11:40").update("T2", status="Closed")
    m.at("2026-11-09 10:00").add("T4", f"{SPAM} {HOSTILE}", B)
    m.at("2026-11-09 11:00")  # T4's first response is due: the sweep marks it breached
    m.at("2026-11-09 11:30").reply("T4")
    m.at("2026-11-09 12:00").update("T3", status="Closed")
    m.at("2026-11-10 09:00").add("T5", IMPROVEMENT, A, cf={"cf_eta": zoho_time("2026-11-13 18:00")})
    m.at("2026-11-10 10:00").reply("T5")
    m.at("2026-11-10 17:00").update("T4", status="Closed")
    m.at("2026-11-11 09:00").add("T6", DNS, B)
    m.at("2026-11-11 10:00").reply("T6")
    m.update("T5", cf={"cf_eta": zoho_time("2026-11-17 18:00")})  # first move
    m.at("2026-11-11 12:00").update("T6", status="Waiting on customer")
    m.at("2026-11-12 10:00").update("T6", status="Open")
    m.at("2026-11-12 15:00").update("T6", status="Closed")
    m.at("2026-11-13 12:00").update("T5", cf={"cf_eta": zoho_time("2026-11-19 18:00")})  # second
    m.at("2026-11-17 10:00").add("T7", ZOHO, B)
    m.at("2026-11-17 10:30").reply("T7")
    m.at("2026-11-17 11:00").update("T7", status="Waiting on third party")
    m.at("2026-11-18 09:00").add("T8", AXENDA, A)
    m.at("2026-11-18 09:20").reply("T8")
    m.at("2026-11-18 10:00").update("T8", status="Waiting on third party")
    m.at("2026-11-18 15:00").update("T7", status="Open")
    m.at("2026-11-18 16:00").update("T7", status="Closed")
    m.at("2026-11-19 10:00").update("T8", status="Open")
    m.add("T9", SPAM, A)
    m.at("2026-11-19 10:05").update("T9", priority="Low")  # the agent overrides High
    m.at("2026-11-19 10:30").reply("T9")
    m.at("2026-11-19 12:00").update("T5", status="Closed")
    m.at("2026-11-20 10:00").update("T9", status="Closed")
    m.at("2026-11-23 10:00").add("T10", DOWN, A)
    m.at("2026-11-23 10:05").reply("T10")
    m.at("2026-11-23 12:00")  # T10's resolution is due (2 h, 24x7): breached
    m.at("2026-11-23 13:00").update("T10", status="Closed")
    m.at("2026-11-24 10:00").add("T12", SPAM, B)
    m.at("2026-11-24 11:00").delete("T12")
    m.at("2026-11-27 10:00").add("T11", DNS, B)
    m.at("2026-12-01 07:30").add("T13", SPAM, A)
    m.at("2026-12-01 08:00")  # T11's response was due Mon 30 Nov 10:00: the sweep breaches it
    return m.ids


pytestmark = [pytest.mark.usefixtures("cli_on_service_database"), pytest.mark.heavy]


def report(service: Service, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["report", "--month", "2026-11", *args], clock=service.clock)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_the_seeded_month_in_json_with_three_tickets_checked_by_hand(
    service: Service, november: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(report(service, capsys, "--format", "json"))
    tickets = {t["ticket"]: t for t in data["tickets"]}
    names = {v: k for k, v in november.items()}
    assert sorted(names[t] for t in tickets) == sorted(
        ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11"]
    )  # T0 (October), T12 (deleted) and T13 (December) are left out

    # T1, High, created Tue 3 Nov 09:00. Reply 09:30: 0.5 business hour = 1800 s (due 10:00:
    # met). Closed Wed 4 Nov 10:00: Tue 09:00-19:00 (10 h) + Wed 08:00-10:00 (2 h) = 12 h =
    # 43200 s. Target 1 day = 11 business hours -> Wed 09:00: missed by an hour; due 3 days
    # (33 h) -> Fri 6 Nov 09:00: met.
    t1 = tickets[november["T1"]]
    assert (t1["response_business_s"], t1["resolution_business_s"]) == (1800, 43200)
    assert (t1["response_state"], t1["resolution_state"]) == ("met", "met")
    assert t1["resolution_target"] == "2026-11-04T15:00:00Z"  # Wed 4 Nov 09:00 local
    assert t1["closed_at"] == "2026-11-04T16:00:00Z" and t1["breached"] is False

    # T4, High, created Mon 9 Nov 10:00: the response was due 11:00; the reply came 11:30:
    # 1.5 h = 5400 s, breached. Closed Tue 10 Nov 17:00: Mon 10:00-19:00 (9 h) + Tue
    # 08:00-17:00 (9 h) = 18 h = 64800 s; past the target (Tue 10:00), within the due (Thu 12
    # Nov 10:00).
    t4 = tickets[november["T4"]]
    assert (t4["response_business_s"], t4["resolution_business_s"]) == (5400, 64800)
    assert (t4["response_state"], t4["resolution_state"]) == ("breached", "met")
    assert t4["breached"] is True and t4["account"] == B

    # T6, Medium, created Wed 11 Nov 09:00, reply 10:00 (1 h = 3600 s). On hold Wed 12:00 to
    # Thu 12 Nov 10:00: 22 h of wall-clock time (79200 s), of which Wed 12:00-19:00 (7 h) and
    # Thu 08:00-10:00 (2 h) are business time. Closed Thu 15:00: Wed 09:00-19:00 (10 h) + Thu
    # 08:00-15:00 (7 h) = 17 h - 9 h held = 8 h = 28800 s.
    t6 = tickets[november["T6"]]
    assert (t6["response_business_s"], t6["resolution_business_s"]) == (3600, 28800)
    assert t6["paused_s"] == 79200
    assert (t6["response_state"], t6["resolution_state"]) == ("met", "met")

    # The others' figures that the groups below add up.
    assert tickets[november["T5"]]["eta_changes"] == 2
    assert tickets[november["T7"]]["vendor_waits_s"] == {"Zoho": 28 * 3600}  # Tue 11:00-Wed 15:00
    assert tickets[november["T8"]]["vendor_waits_s"] == {"Axenda": 24 * 3600}
    assert tickets[november["T9"]]["overridden"] is True
    assert tickets[november["T9"]]["priority"] == "Low"
    assert tickets[november["T10"]]["resolution_state"] == "breached"
    t11 = tickets[november["T11"]]
    assert (t11["closed_at"], t11["response_state"]) == (None, "breached")

    groups = {g["key"]: g for g in data["groups"]}
    assert [g["key"] for g in data["groups"]] == ["Urgent", "High", "Medium", "Low"]
    assert [g["label"] for g in data["groups"]] == ["Urgente", "Alta", "Media", "Baja"]
    # High = T1 and T4: responses met 1 of 2; resolutions met 2 of 2; both past the target;
    # median of 0.5 h and 1.5 h = 1.0 h, p90 (nearest rank: the 2nd of 2) = 1.5 h; resolution
    # median of 12 h and 18 h = 15 h.
    high = groups["High"]
    assert (high["tickets"], high["response_met_pct"], high["resolution_met_pct"]) == (2, 50, 100)
    assert (high["target_met"], high["target_missed"], high["target_met_pct"]) == (0, 2, 0)
    assert (high["response_median_h"], high["response_p90_h"]) == (1.0, 1.5)
    assert (high["resolution_median_h"], high["breached"]) == (15.0, 1)
    medium = groups["Medium"]  # T5, T6, T7, T8, T11
    assert (medium["tickets"], medium["open"]) == (5, 2)
    assert medium["vendor_wait_h"] == {"Axenda": 24.0, "Zoho": 28.0}
    assert (medium["eta_renegotiations"], medium["eta_renegotiated_tickets"]) == (2, 1)
    # On hold: T6 22 h, and the vendor waits (an On Hold status too): T7 28 h, T8 24 h
    assert (medium["paused_total_h"], medium["paused_tickets"]) == (74.0, 3)
    assert medium["paused_median_h"] == 24.0
    assert (groups["Low"]["overrides"], groups["Low"]["override_pct"]) == (1, 50.0)
    totals = data["totals"]
    assert (totals["tickets"], totals["breached"], totals["overrides"]) == (11, 3, 1)
    assert data["breaches_by_rule"] == {
        "high-spam-attack": 1,
        "medium-configuration": 1,
        "urgent-service-down": 1,
    }
    assert data["vendor_wait_h"] == {"Axenda": 24.0, "Zoho": 28.0}
    assert data["period"] == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "timezone": "America/Mexico_City",
        "tickets": "created in the period, deleted ones left out",
    }

    # The same figures whenever the report runs: a month later, nothing of November moved but
    # the open tickets' states (none changed here).
    service.clock.set(mx("2027-01-05 12:00"))
    later = json.loads(report(service, capsys, "--format", "json"))
    assert later["groups"] == data["groups"] and later["tickets"] == data["tickets"]


def test_the_seeded_month_as_a_table_and_csv_by_account(
    service: Service, november: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    table = report(service, capsys)
    assert table.startswith("Informe de cumplimiento de SLA\nPeriodo: 2026-11-01 – 2026-11-30")
    lines = table.splitlines()
    assert any(re.match(r"Alta\s+2\s+0\s+50\.0\s+100\.0\s+0\.0\s+1\s", line) for line in lines)
    assert any(line.startswith("Total ") for line in lines)
    assert "Generado: mar 1 dic 2026 08:00 CST" in table
    assert "Espera a proveedores (h): Axenda: 24.0 h, Zoho: 28.0 h" in table
    assert not [line for line in lines if re.search(r"\bNone\b|\{'", line)]
    english = report(service, capsys, "--lang", "en")
    assert english.startswith("SLA compliance report") and "High " in english

    text = report(service, capsys, "--format", "csv", "--by", "account")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["row"], r["key"], r["tickets"]) for r in rows] == [
        ("group", A, "6"),  # T1 T3 T5 T8 T9 T10
        ("group", B, "5"),  # T2 T4 T6 T7 T11
        ("total", "", "11"),
    ]
    assert rows[-1]["vendor_wait_h:Zoho"] == "28.0"


class Page(HTMLParser):
    """What a browser would fetch or run: every tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.svg_ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "svg":
            self.svg_ids.append(attributes.get("id") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def bars(self, chart: str) -> list[dict[str, str | None]]:
        """The bars of one chart (its rects follow its <svg> until the next one)."""
        inside, found = False, []
        for tag, attributes in self.tags:
            if tag == "svg":
                inside = attributes.get("id") == chart
            elif inside and tag == "rect" and attributes.get("class") == "bar":
                found.append(attributes)
        return found


def test_the_html_report_is_one_self_contained_file_with_its_charts(
    service: Service, november: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "noviembre.html"
    said = report(service, capsys, "--format", "html", "--out", str(out))
    assert said.startswith(
        f"wrote the html report of 2026-11-01 – 2026-11-30 (11 tickets) to {out}"
    )
    html = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    page.close()

    # Nothing external: no scripts at all, no link/img/iframe/object, no URL in any attribute
    # or style, no web fonts.
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base"}
    for tag, attributes in page.tags:
        for name, value in attributes.items():
            assert not re.search(r"(https?:)?//|url\(|javascript:", value or "", re.I), (tag, name)
            assert not name.startswith("on"), (tag, name)
    assert not re.search(r"https?://|@import|@font-face|url\(", html, re.I)

    # The charts: met % per priority per week, breaches per rule, vendor wait per vendor.
    assert page.svg_ids == ["chart-weekly", "chart-breaches", "chart-vendors"]
    weekly = page.bars("chart-weekly")
    # One bar per (week, priority) with a ticket whose deadline is decided: week of 2 Nov:
    # Urgent (T2), High (T1), Low (T3); 9 Nov: High (T4), Medium (T5, T6); 16 Nov: Medium
    # (T7, T8), Low (T9); 23 Nov: Urgent (T10), Medium (T11). The weeks of 1 Nov and 30 Nov
    # have none.
    assert [(b["data-week"], b["data-priority"], b["data-value"]) for b in weekly] == [
        ("2026-11-02", "Urgent", "100.0"),
        ("2026-11-02", "High", "100.0"),
        ("2026-11-02", "Low", "100.0"),
        ("2026-11-09", "High", "0.0"),
        ("2026-11-09", "Medium", "100.0"),
        ("2026-11-16", "Medium", "100.0"),
        ("2026-11-16", "Low", "100.0"),
        ("2026-11-23", "Urgent", "0.0"),
        ("2026-11-23", "Medium", "0.0"),
    ]
    breaches = page.bars("chart-breaches")
    assert sorted((b["data-key"], b["data-value"]) for b in breaches) == [
        ("high-spam-attack", "1.0"),
        ("medium-configuration", "1.0"),
        ("urgent-service-down", "1.0"),
    ]
    vendors = page.bars("chart-vendors")
    assert [(b["data-key"], b["data-value"]) for b in vendors] == [
        ("Axenda", "24.0"),
        ("Zoho", "28.0"),
    ]

    # Spanish by default; a hostile subject is text, not markup.
    text = " ".join(page.text)
    assert "Informe de cumplimiento de SLA" in text and "Cumplimiento por prioridad" in text
    assert HOSTILE in text  # shown, as text
    assert "<script>" not in html and "&lt;script&gt;" in html

    english = report(service, capsys, "--format", "html", "--lang", "en")
    assert '<html lang="en">' in english and "SLA compliance report" in english


def test_bad_periods_are_one_line_errors(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in [
        (["--month", "2026-13"], 'error: --month: "2026-13" is not a month (YYYY-MM)'),
        (["--month", "2026-11", "--from", "2026-11-01"], "error: --month: give either"),
        (["--from", "2026-11-01"], "error: --from and --to go together"),
        (["--from", "2026-11-30", "--to", "2026-11-01"], "error: --to 2026-11-01 is before"),
        (["--from", "1 Nov", "--to", "2026-11-30"], 'error: --from: "1 Nov" is not a date'),
    ]:
        capsys.readouterr()
        assert main(["report", *args], clock=service.clock) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and len(err.strip().splitlines()) == 1, err
