"""The access token in memory, the database as the shared source.

A process keeps the token it last read or minted and calls Zoho with it; it reads the shared row
again only when the token is near its expiry, after Zoho refused it (401), after it changed the
row itself, and at least every `recheck_s` seconds (so another process's "calls paused" or
"re-authorisation required" stops its calls within that time).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from integration.zoho import CallsPaused, CreditsExhausted, ReauthorizationRequired
from integration.zoho.auth import (
    FreshToken,
    MemoryTokenStore,
    OAuthRefresher,
    TokenManager,
    TokenState,
    TokenStore,
)
from integration.zoho.client import HttpDeskClient
from integration.zoho.fake import FakeDesk, Fault
from integration.zoho.fake_server import FakeZohoServer
from integration.zoho.hosts import Endpoints
from tests.zoho.conftest import SleepRecorder

T0 = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingStore:
    """A token store that counts how often the shared row is read."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.reads = 0

    def read(self) -> TokenState:
        self.reads += 1
        return self.inner.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def process(desk: FakeDesk, url: str, store: Any, clock: Clock, **kwargs: Any) -> HttpDeskClient:
    """One process's client of the fake, sharing `store` with the others."""
    http = requests.Session()
    hosts = Endpoints(desk=url, accounts=url)
    refresher = OAuthRefresher(
        http, hosts.token_url, desk.client_id, desk.client_secret, desk.refresh_token
    )
    tokens = TokenManager(store, refresher, clock=clock, poll_s=0.01, **kwargs)
    return HttpDeskClient(hosts, desk.org_id, tokens, http=http, clock=clock, sleep=SleepRecorder())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(clock: Clock) -> FakeDesk:
    return FakeDesk(clock=clock)


@pytest.fixture
def zoho(desk: FakeDesk):  # type: ignore[no-untyped-def]
    with FakeZohoServer(desk) as server:
        yield server


def test_fifty_calls_read_the_shared_token_once(sql_store, desk, zoho, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    process(desk, zoho.url, sql_store, clock).tokens.access_token()  # another process mints it
    store = CountingStore(sql_store)
    ours = process(desk, zoho.url, store, clock)
    for _ in range(50):
        ours.get_ticket(ticket["id"])
    assert store.reads == 1
    assert desk.token_calls == 1  # the other process's token, used as it is


def test_a_token_minted_here_is_used_from_memory(desk, zoho, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    store = CountingStore(MemoryTokenStore())
    ours = process(desk, zoho.url, store, clock)
    ours.get_ticket(ticket["id"])
    reads_to_mint = store.reads  # looked at the row, took the lease, looked again: then minted
    for _ in range(20):
        ours.get_ticket(ticket["id"])
    assert store.reads == reads_to_mint
    assert desk.token_calls == 1


def test_a_refused_token_is_read_again_and_refreshed_once(sql_store, desk, zoho, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    store = CountingStore(sql_store)
    ours = process(desk, zoho.url, store, clock)
    ours.get_ticket(ticket["id"])
    desk.expire_tokens()  # Zoho revokes it early: the next call gets a 401
    ours.get_ticket(ticket["id"])
    assert desk.token_calls == 2
    reads = store.reads
    for _ in range(10):
        ours.get_ticket(ticket["id"])
    assert store.reads == reads  # the new token is used from memory


def test_near_expiry_another_processs_refresh_is_taken_from_the_database(
    sql_store, desk, zoho, clock
) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    ours = process(desk, zoho.url, sql_store, clock, margin_s=300, recheck_s=3600)
    other = process(desk, zoho.url, sql_store, clock, margin_s=600, recheck_s=3600)
    ours.get_ticket(ticket["id"])
    clock.advance(minutes=52)  # 8 min left: within the other's margin, not ours yet
    other.get_ticket(ticket["id"])  # the other process refreshes
    assert desk.token_calls == 2
    clock.advance(minutes=4)  # 4 min left on our copy: within our margin
    ours.get_ticket(ticket["id"])
    assert desk.token_calls == 2  # ours read the other's new token instead of minting one
    assert ours.tokens.call_state().access_token == sql_store.read().access_token


def test_calls_paused_by_another_process_stop_ours_within_the_recheck_interval(
    sql_store, desk, zoho, clock
) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    ours = process(desk, zoho.url, sql_store, clock, recheck_s=15)
    ours.get_ticket(ticket["id"])
    sql_store.pause_calls(T0 + timedelta(hours=1), T0)  # another process: credits spent
    ours.get_ticket(ticket["id"])  # our copy is still fresh: one more call may go out
    clock.advance(seconds=15)
    with pytest.raises(CallsPaused):
        ours.get_ticket(ticket["id"])
    clock.advance(hours=1)
    sql_store.pause_calls(None, clock())
    clock.advance(seconds=15)
    ours.get_ticket(ticket["id"])  # resumed


def test_reauthorisation_required_elsewhere_stops_ours_within_the_recheck_interval(
    sql_store, desk, zoho, clock
) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    ours = process(desk, zoho.url, sql_store, clock, recheck_s=15)
    ours.get_ticket(ticket["id"])
    sql_store.mark_reauth("invalid_code", clock())  # another process was refused the grant
    clock.advance(seconds=15)
    with pytest.raises(ReauthorizationRequired):
        ours.get_ticket(ticket["id"])


def test_spent_credits_seen_here_stop_our_next_call_at_once(desk, zoho, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = desk.create_ticket(subject="x")
    ours = process(desk, zoho.url, MemoryTokenStore(), clock, recheck_s=3600)
    ours.get_ticket(ticket["id"])
    desk.inject(Fault(status=429, body={"errorCode": "THRESHOLD_EXCEEDED", "message": "spent"}))
    with pytest.raises(CreditsExhausted):
        ours.get_ticket(ticket["id"])
    with pytest.raises(CallsPaused):  # our own pause is in our copy at once
        ours.get_ticket(ticket["id"])
    assert len(desk.writes("GET")) == 2  # the first call and the refused one; none after


def test_threads_at_expiry_refresh_once(clock) -> None:  # type: ignore[no-untyped-def]
    minted: list[str] = []
    lock = threading.Lock()

    def refresher() -> FreshToken:
        with lock:
            minted.append(f"tok-{len(minted) + 1}")
            return FreshToken(minted[-1], 3600)

    store = CountingStore(MemoryTokenStore())
    tokens = TokenManager(store, refresher, clock=clock, margin_s=300)
    assert tokens.access_token() == "tok-1"
    clock.advance(minutes=56)  # within the margin: every thread wants a new token
    barrier = threading.Barrier(8)
    got: list[str] = []

    def call() -> None:
        barrier.wait()
        got.append(tokens.access_token())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert minted == ["tok-1", "tok-2"]
    assert got == ["tok-2"] * 8
