"""Fault behaviour of the HTTP client: retries, Retry-After, credit exhaustion, token refresh.

Unit tests use `responses` (an ordered registry per URL); the concurrency tests use the fake Zoho
Desk served on a port, with the token shared through the real database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from integration import db
from integration.config import settings_from_mapping
from integration.zoho import (
    CallsPaused,
    CreditsExhausted,
    NotFound,
    ReauthorizationRequired,
    ServerError,
    build_http_client,
)
from integration.zoho.auth import FreshToken, MemoryTokenStore, OAuthRefresher, TokenManager
from integration.zoho.client import HttpDeskClient
from integration.zoho.fake import FakeDesk, Fault
from integration.zoho.fake_server import FakeZohoServer
from integration.zoho.hosts import Endpoints
from tests.zoho.conftest import SleepRecorder, http_client

BASE = "https://desk.unit.test"
HOSTS = Endpoints(desk=BASE, accounts="https://accounts.unit.test")
TICKET_URL = f"{BASE}/api/v1/tickets/1"
TOKEN_URL = "https://accounts.unit.test/oauth/v2/token"


def client(sleep: SleepRecorder | None = None, **kwargs) -> HttpDeskClient:  # type: ignore[no-untyped-def]
    session = requests.Session()
    refresher = OAuthRefresher(session, TOKEN_URL, "id", "secret", "refresh")
    tokens = TokenManager(MemoryTokenStore(), refresher)
    return HttpDeskClient(
        HOSTS,
        "600",
        tokens,
        http=session,
        sleep=SleepRecorder() if sleep is None else sleep,
        **kwargs,
    )


def token_ok(mock: responses.RequestsMock, token: str = "tok-1") -> None:
    mock.add(responses.POST, TOKEN_URL, json={"access_token": token, "expires_in": 3600})


@responses.activate(registry=OrderedRegistry)
def test_503_503_200_succeeds_after_two_backed_off_retries() -> None:
    token_ok(responses.mock)
    for _ in range(2):
        responses.add(
            responses.GET, TICKET_URL, status=503, json={"errorCode": "INTERNAL_SERVER_ERROR"}
        )
    responses.add(responses.GET, TICKET_URL, json={"id": "1"})
    sleeps = SleepRecorder()
    assert client(sleeps).get_ticket("1") == {"id": "1"}
    assert len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)
    assert sum(c.request.url == TICKET_URL for c in responses.calls) == 3


@responses.activate(registry=OrderedRegistry)
def test_429_with_retry_after_waits_as_told() -> None:
    token_ok(responses.mock)
    responses.add(
        responses.GET,
        TICKET_URL,
        status=429,
        headers={"Retry-After": "7"},
        json={"errorCode": "TOO_MANY_REQUESTS", "message": "slow down"},
    )
    responses.add(responses.GET, TICKET_URL, json={"id": "1"})
    sleeps = SleepRecorder()
    client(sleeps).get_ticket("1")
    assert sleeps == [7.0]


@responses.activate(registry=OrderedRegistry)
def test_429_without_retry_after_backs_off_exponentially() -> None:
    token_ok(responses.mock)
    for _ in range(3):
        responses.add(
            responses.GET, TICKET_URL, status=429, json={"errorCode": "TOO_MANY_REQUESTS"}
        )
    responses.add(responses.GET, TICKET_URL, json={"id": "1"})
    sleeps = SleepRecorder()
    client(sleeps, backoff_initial_s=1.0).get_ticket("1")
    assert len(sleeps) == 3
    assert sleeps[2] >= 4.0  # 1, 2, 4 seconds (plus jitter)


@responses.activate(registry=OrderedRegistry)
def test_timeouts_and_refused_connections_are_retried() -> None:
    token_ok(responses.mock)
    responses.add(responses.GET, TICKET_URL, body=requests.exceptions.ReadTimeout("slow"))
    responses.add(responses.GET, TICKET_URL, body=requests.exceptions.ConnectionError("refused"))
    responses.add(responses.GET, TICKET_URL, json={"id": "1"})
    assert client().get_ticket("1") == {"id": "1"}


@responses.activate(registry=OrderedRegistry)
def test_retries_stop_after_the_configured_count() -> None:
    token_ok(responses.mock)
    for _ in range(3):
        responses.add(responses.GET, TICKET_URL, status=502, json={})
    with pytest.raises(ServerError):
        client(max_retries=2).get_ticket("1")
    assert sum(c.request.url == TICKET_URL for c in responses.calls) == 3


@responses.activate(registry=OrderedRegistry)
def test_other_4xx_are_never_retried() -> None:
    token_ok(responses.mock)
    responses.add(responses.GET, TICKET_URL, status=404, json={"errorCode": "URL_NOT_FOUND"})
    sleeps = SleepRecorder()
    with pytest.raises(NotFound):
        client(sleeps).get_ticket("1")
    assert sleeps == []


@responses.activate(registry=OrderedRegistry)
def test_credits_spent_pauses_every_call_until_the_reset() -> None:
    token_ok(responses.mock)
    responses.add(
        responses.GET,
        TICKET_URL,
        status=429,
        headers={"Retry-After": "3600"},
        json={"errorCode": "THRESHOLD_EXCEEDED", "message": "daily credits spent"},
    )
    desk = client()
    with pytest.raises(CreditsExhausted):
        desk.get_ticket("1")
    calls_before = len(responses.calls)
    with pytest.raises(CallsPaused) as paused:
        desk.get_ticket("1")
    assert len(responses.calls) == calls_before  # nothing was sent
    remaining = (paused.value.resume_at - desk.clock()).total_seconds()
    assert 3500 < remaining <= 3600


@responses.activate(registry=OrderedRegistry)
def test_a_401_refreshes_the_token_once_and_replays() -> None:
    token_ok(responses.mock, "tok-1")
    responses.add(responses.GET, TICKET_URL, status=401, json={"errorCode": "INVALID_OAUTH"})
    token_ok(responses.mock, "tok-2")
    responses.add(
        responses.GET,
        TICKET_URL,
        json={"id": "1"},
        match=[matchers.header_matcher({"Authorization": "Zoho-oauthtoken tok-2"})],
    )
    assert client().get_ticket("1") == {"id": "1"}
    assert sum(c.request.url == TOKEN_URL for c in responses.calls) == 2


@responses.activate
def test_every_call_sends_org_id_auth_and_records_credits_left() -> None:
    token_ok(responses.mock)
    responses.add(
        responses.PATCH,
        TICKET_URL,
        json={"id": "1"},
        headers={"X-Rate-Limit-Remaining-v3": "74990", "X-Rate-Limit-Request-Weight-v3": "1"},
        match=[
            matchers.header_matcher(
                {
                    "orgId": "600",
                    "Authorization": "Zoho-oauthtoken tok-1",
                    "sourceId": "2df92c1a-973a-48f5-95b7-5792c68b9c36",
                }
            )
        ],
    )
    desk = client(source_id="2df92c1a-973a-48f5-95b7-5792c68b9c36")
    desk.update_ticket("1", {"priority": "High"})
    assert desk.gauge.remaining == 74990


def test_concurrent_calls_are_capped() -> None:
    """8 threads, a cap of 2: the calls hold Zoho's answer until two are in flight; then no
    third slot is free, and every call still completes once the answers are released."""
    in_flight = 0
    peak = 0
    two_in_flight = threading.Event()
    answer = threading.Event()
    lock = threading.Lock()

    def held(_request):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 2:
                two_in_flight.set()
        answer.wait(timeout=30)
        with lock:
            in_flight -= 1
        return 200, {}, '{"id": "1"}'

    with responses.RequestsMock() as mock:
        token_ok(mock)
        mock.add_callback(responses.GET, TICKET_URL, callback=held)
        desk = client(max_concurrency=2)
        desk.tokens.access_token()  # the token first, so every thread goes straight to the call
        results: list[object] = []
        threads = [
            threading.Thread(target=lambda: results.append(desk.get_ticket("1"))) for _ in range(8)
        ]
        for t in threads:
            t.start()
        assert two_in_flight.wait(timeout=30)
        assert not desk._slots.acquire(blocking=False)  # both slots taken: a third call waits
        answer.set()
        for t in threads:
            t.join(timeout=30)
    assert peak == 2
    assert len(results) == 8


def test_token_expiry_under_8_threads_makes_exactly_one_refresh(sql_store) -> None:  # type: ignore[no-untyped-def]
    desk = FakeDesk()
    with FakeZohoServer(desk) as server:
        ticket = desk.create_ticket(subject="x")
        # Two "processes" (two token managers) share the token through the database.
        first = http_client(desk, server.url, sql_store)
        second = http_client(desk, server.url, sql_store)
        first.get_ticket(ticket["id"])
        assert desk.token_calls == 1

        desk.expire_tokens()
        sql_store.invalidate(sql_store.read().access_token)  # the cached token is now useless
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def call(desk_client: HttpDeskClient) -> None:
            barrier.wait()
            try:
                desk_client.get_ticket(ticket["id"])
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=call, args=((first, second)[i % 2],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert desk.token_calls == 2  # the first token, then exactly one refresh


def test_a_rejected_token_mid_flight_is_refreshed_once_for_8_threads(sql_store) -> None:  # type: ignore[no-untyped-def]
    desk = FakeDesk()
    with FakeZohoServer(desk) as server:
        ticket = desk.create_ticket(subject="x")
        desk_client = http_client(desk, server.url, sql_store)
        desk_client.get_ticket(ticket["id"])
        desk.expire_tokens()  # Zoho now refuses the cached token with 401
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            desk_client.get_ticket(ticket["id"])

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert desk.token_calls == 2


def test_invalid_grant_stops_every_further_token_call(sql_store) -> None:  # type: ignore[no-untyped-def]
    desk = FakeDesk()
    desk.refresh_revoked = True
    with FakeZohoServer(desk) as server:
        desk_client = http_client(desk, server.url, sql_store)
        with pytest.raises(ReauthorizationRequired):
            desk_client.get_ticket("1")
        for _ in range(5):
            with pytest.raises(ReauthorizationRequired):
                desk_client.get_ticket("1")
        # Another process sharing the database sees the same state and does not try either.
        other = http_client(desk, server.url, sql_store)
        with pytest.raises(ReauthorizationRequired):
            other.get_ticket("1")
    assert desk.token_calls == 1
    assert sql_store.read().reauth_required
    assert "invalid_code" in sql_store.read().reauth_reason


def test_slow_answers_time_out_and_are_retried() -> None:
    desk = FakeDesk()
    with FakeZohoServer(desk) as server:
        ticket = desk.create_ticket(subject="x")
        desk.inject(Fault(status=200, delay_s=1.0, path_prefix="/api/v1/tickets/"))
        desk_client = http_client(desk, server.url, timeout=(1.0, 0.3))
        assert desk_client.get_ticket(ticket["id"])["id"] == ticket["id"]
        assert len(desk_client.sleep) == 1  # type: ignore[arg-type]


COMMENTS_URL = f"{BASE}/api/v1/tickets/1/comments"


@responses.activate(registry=OrderedRegistry)
def test_a_comment_post_answered_503_is_not_repeated_blindly() -> None:
    # Zoho may have stored it: the caller (the outbox) looks before it posts again.
    token_ok(responses.mock)
    responses.add(responses.POST, COMMENTS_URL, status=503, json={})
    with pytest.raises(ServerError):
        client().add_comment("1", "hola")
    assert sum(c.request.url == COMMENTS_URL for c in responses.calls) == 1


@responses.activate(registry=OrderedRegistry)
def test_a_comment_post_that_never_connected_is_repeated() -> None:
    token_ok(responses.mock)
    responses.add(responses.POST, COMMENTS_URL, body=requests.exceptions.ConnectTimeout("no"))
    responses.add(responses.POST, COMMENTS_URL, status=429, json={"errorCode": "TOO_MANY_REQUESTS"})
    responses.add(responses.POST, COMMENTS_URL, json={"id": "c1"})
    assert client().add_comment("1", "hola") == {"id": "c1"}


@pytest.mark.parametrize("status", [400, 403])
@responses.activate(registry=OrderedRegistry)
def test_credits_spent_is_recognised_by_its_error_code_whatever_the_status(status: int) -> None:
    token_ok(responses.mock)
    responses.add(
        responses.GET,
        TICKET_URL,
        status=status,
        json={"errorCode": "THRESHOLD_EXCEEDED", "message": "daily credits spent"},
    )
    desk = client()
    with pytest.raises(CreditsExhausted):
        desk.get_ticket("1")
    with pytest.raises(CallsPaused):
        desk.get_ticket("1")


@responses.activate(registry=OrderedRegistry)
def test_retry_backoff_follows_the_backoff_settings(database_url: str) -> None:
    settings = settings_from_mapping(
        {
            "DATABASE_URL": database_url,
            "ZOHO_DESK_BASE_URL": BASE,
            "ZOHO_ACCOUNTS_URL": "https://accounts.unit.test",
            "ZOHO_ORG_ID": "600",
            "ZOHO_CLIENT_ID": "id",
            "ZOHO_CLIENT_SECRET": "secret",
            "ZOHO_REFRESH_TOKEN": "refresh",
            "ZOHO_BACKOFF_S": "2",
            "ZOHO_BACKOFF_MAX_S": "3",
        }
    )
    engine = db.make_engine(database_url)
    desk = build_http_client(settings, db.make_session_factory(engine))
    desk.sleep = sleeps = SleepRecorder()
    token_ok(responses.mock)
    for _ in range(3):
        responses.add(responses.GET, TICKET_URL, status=503, json={})
    responses.add(responses.GET, TICKET_URL, json={"id": "1"})
    try:
        assert desk.get_ticket("1") == {"id": "1"}
    finally:
        engine.dispose()
    assert len(sleeps) == 3
    assert sleeps[0] >= 2  # the first wait is ZOHO_BACKOFF_S (plus jitter) ...
    assert all(s <= 3 for s in sleeps)  # ... and none is longer than ZOHO_BACKOFF_MAX_S


class CountingStore(MemoryTokenStore):
    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def reset_for(self, fingerprint: str, now) -> None:  # type: ignore[no-untyped-def]
        self.resets += 1
        super().reset_for(fingerprint, now)


def test_new_credentials_clear_reauthorisation_once_on_first_use_not_when_built() -> None:
    store = CountingStore()
    store.mark_reauth("invalid_code", datetime.now(UTC))  # under the old credentials
    tokens = TokenManager(
        store, lambda: FreshToken("tok-2", 3600), credentials_fingerprint="new-credentials"
    )
    assert store.resets == 0 and store.read().reauth_required  # building wrote nothing
    barrier = threading.Barrier(8)
    got: list[str] = []

    def use() -> None:
        barrier.wait()
        got.append(tokens.access_token())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["tok-2"] * 8
    assert store.resets == 1
