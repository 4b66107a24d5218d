"""Generated requests at POST /webhooks/zoho-desk: never a 500 (nor a 410), every refusal a JSON
body naming the problem, and nothing stored from a refused delivery.

A seeded generator (the seed is printed; `CHAOS_SEED` replays one) builds each request from a
real delivery of the generated portal, then mutates it: a field of an event replaced by an odd
value (another type, a huge number, deep nesting, NUL, a lone surrogate, a long text), a field
removed, junk appended to the array, invalid UTF-8 spliced into the bytes, the JSON cut short,
an empty body, an array of junk; with odd headers (content types, charset, a garbage JWT header,
an 8 kB header) and odd query strings (the token missing, empty, twice, percent-garbage). Most go
through Flask's test client (speed); some through the app served on a port.

tests/pipeline/test_hostile_input.py fuzzes the boundary with hypothesis (JWT and token, body
shapes); this one adds mutations of real deliveries, headers and content types at volume, and
checks the counts of stored rows. A 200 may store quarantined events: receive.py's documented
exception (each invalid event is kept aside, naming its problem, so its valid neighbours live).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import func, select

from integration.app import create_app
from integration.config import settings_from_mapping
from integration.models import InboxEvent
from tests.pipeline.conftest import ServedApp
from tests.reliability.scenario import portal, size

pytestmark = pytest.mark.heavy  # see tests/conftest.py: run once, at the real wall clock

REQUESTS = size(500, 10_000)
SERVED = size(25, 300)  # of which through the served port
TOKEN = "s3cret-token"
LIMIT = 65536
ANSWERS = {200, 400, 401, 413, 415, 422}

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 10**400, -(10**400), 2**63, 1.5e308, "", "\x00", "a\x00b", "\ud800",
    "NaN", "-0", "1e999", "9" * 40, "x" * 5000, [], {}, [None, 1, "a"], {"a": {"b": [1]}},
    "2026-13-45T25:61:00Z", "0001-01-01T00:00:00Z", "\u0661\u0662", "<script>", " 1",
]  # fmt: skip
CONTENT_TYPES = [
    "application/json", "application/json", "application/json; charset=utf-8", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
    "application/json; charset=latin-1", "\u00e9/\u00e9", "application/xml",
]  # fmt: skip


def nested(depth: int) -> Any:
    value: Any = "deep"
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


def odd(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.1:
        return nested(rng.choice([30, 200, 800]))
    if roll < 0.2:
        return [odd(rng) for _ in range(rng.randint(0, 4))]
    return rng.choice(ODD_VALUES)


def mutate_event(rng: random.Random, item: dict[str, Any]) -> dict[str, Any]:
    item = json.loads(json.dumps(item))
    target = item
    if isinstance(item.get("payload"), dict) and rng.random() < 0.7:
        target = item["payload"]
    key = rng.choice([*target, "cf", "extra"])
    if rng.random() < 0.2:
        target.pop(key, None)
    else:
        target[key] = odd(rng)
    return item


def body(rng: random.Random, events: list[dict[str, Any]]) -> tuple[str, bytes]:
    """(what was done, the body)."""
    delivery = [json.loads(json.dumps(e)) for e in rng.sample(events, rng.randint(1, 4))]
    roll = rng.random()
    if roll < 0.15:
        return "valid", json.dumps(delivery).encode()
    if roll < 0.55:
        mutated = [mutate_event(rng, e) if rng.random() < 0.6 else e for e in delivery]
        return "mutated events", json.dumps(mutated).encode()
    if roll < 0.62:
        return "junk appended", json.dumps([*delivery, odd(rng)]).encode()
    if roll < 0.70:
        raw = json.dumps(delivery).encode()
        at = rng.randrange(len(raw))
        return "invalid utf-8", raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + raw[
            at:
        ]
    if roll < 0.76:
        raw = json.dumps(delivery).encode()
        return "cut short", raw[: rng.randrange(len(raw))]
    if roll < 0.80:
        return "empty", b""
    if roll < 0.86:
        return "array of junk", json.dumps([odd(rng) for _ in range(rng.randint(0, 5))]).encode()
    if roll < 0.90:
        return "a scalar or object", json.dumps(odd(rng)).encode()
    if roll < 0.94:
        return "over the limit", json.dumps(delivery).encode() + b" " * LIMIT
    if roll < 0.97:
        return "huge numbers", json.dumps(delivery).replace('"Open"', "1e99999").encode()
    return "random bytes", rng.randbytes(rng.randint(1, 64))


def headers_and_query(rng: random.Random) -> tuple[str, dict[str, str], str]:
    headers = {"Content-Type": rng.choice(CONTENT_TYPES)}
    roll = rng.random()
    if roll < 0.1:
        headers["X-ZDesk-JWT"] = rng.choice(["", "a.b.c", "eyJ" + "A" * 300, "\u00ff" * 10])
    elif roll < 0.15:
        headers["X-Padding"] = "p" * 8000
    roll = rng.random()
    if roll < 0.75:
        return "token", headers, f"token={TOKEN}"
    odd_query = rng.choice([
        "", "token=", f"token={TOKEN.upper()}", f"token={TOKEN}%00", "token=%ff%fe",
        f"token=x&token={TOKEN}", f"token[]={TOKEN}", "%zz=%", "token=" + "a" * 5000,
        "token=" + quote(rng.randbytes(8)),
    ])  # fmt: skip
    return "odd query", headers, odd_query


def stored(app: Any) -> int:
    with app.extensions["integration"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def check(app: Any, status: int, answer: Any, before: int, what: str) -> str:
    after = stored(app)
    assert status in ANSWERS, (what, status, answer)
    assert isinstance(answer, dict), (what, status, answer)
    if status != 200:
        assert isinstance(answer.get("error"), str) and answer["error"], (what, status, answer)
        assert after == before, f"{what}: answered {status} but stored {after - before} row(s)"
        return f"{status} {answer['error']}"
    assert after - before == answer["new"], (what, answer)
    return "200 with quarantined" if answer["quarantined"] else "200"


def test_generated_requests_get_no_500_and_refusals_store_nothing(database_url: str) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\ngenerated input: CHAOS_SEED={seed} requests={REQUESTS}")
    rng = random.Random(seed)
    _, events = portal(25)
    app = create_app(
        settings_from_mapping(
            {
                "DATABASE_URL": database_url,
                "WEBHOOK_AUTH": "token",
                "WEBHOOK_TOKEN": TOKEN,
                "WEBHOOK_MAX_BODY_BYTES": str(LIMIT),
            }
        )
    )
    client = app.test_client()
    web = ServedApp(app)
    answers: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    try:
        for n in range(REQUESTS):
            what, raw = body(rng, events)
            auth, headers, query = headers_and_query(rng)
            kinds[what] += 1
            before = stored(app)
            label = f"#{n} {what}, {auth}, {headers.get('Content-Type')!r}, {query[:40]!r}"
            if n < SERVED:  # through the served port; no 8 kB header (the server's own limit)
                headers.pop("X-Padding", None)
                response = requests.post(
                    f"{web.url}/webhooks/zoho-desk?{query}", data=raw, headers=headers, timeout=30
                )
                answer = response.json()
                answers[check(app, response.status_code, answer, before, label)] += 1
                continue
            result = client.post(
                "/webhooks/zoho-desk", data=raw, headers=headers, query_string=query
            )
            answer = result.get_json(silent=True, force=True)
            answers[check(app, result.status_code, answer, before, label)] += 1
    finally:
        web.stop()
        app.extensions["integration"].dispose()
        print(f"generated input: seed={seed} bodies={dict(kinds)}")
        print(f"generated input: answers={dict(sorted(answers.items()))}")
    assert sum(answers.values()) == REQUESTS
    assert answers["200"] and answers["400 bad_delivery"] and answers["401 unauthorized"]
