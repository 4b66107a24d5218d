"""Zoho fixtures: a fake portal, and clients of it three ways: in memory; the HTTP client under
`responses`, routed into the fake's Flask app; the HTTP client against the fake on a port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from integration import db
from integration.cli import main
from integration.zoho.auth import MemoryTokenStore, OAuthRefresher, SqlTokenStore, TokenManager
from integration.zoho.client import HttpDeskClient
from integration.zoho.fake import FakeDesk, FakeDeskClient
from integration.zoho.fake_server import FakeZohoServer, WebhookSigner, create_fake_app
from integration.zoho.hosts import Endpoints

RESPONSES_BASE = "https://desk.fake.test"


class SleepRecorder(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http_client(desk: FakeDesk, base: str, store: Any = None, **kwargs: Any) -> HttpDeskClient:
    import requests

    session = requests.Session()
    hosts = Endpoints(desk=base, accounts=base)
    refresher = OAuthRefresher(
        session, hosts.token_url, desk.client_id, desk.client_secret, desk.refresh_token
    )
    tokens = TokenManager(store or MemoryTokenStore(), refresher, poll_s=0.01)
    kwargs.setdefault("sleep", SleepRecorder())
    return HttpDeskClient(hosts, desk.org_id, tokens, http=session, **kwargs)


def route_into_app(mock: responses.RequestsMock, desk: FakeDesk) -> None:
    """Every request to RESPONSES_BASE is answered by the fake's Flask app (no sockets)."""
    test_client = create_fake_app(desk, WebhookSigner()).test_client()

    def answer(request):  # type: ignore[no-untyped-def]
        path = request.path_url
        result = test_client.open(
            path, method=request.method, headers=dict(request.headers), data=request.body
        )
        return result.status_code, dict(result.headers), result.get_data()

    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        mock.add_callback(method, re.compile(re.escape(RESPONSES_BASE) + ".*"), callback=answer)


@pytest.fixture
def desk() -> FakeDesk:
    return FakeDesk()


@pytest.fixture
def fake_server(desk: FakeDesk) -> Iterator[FakeZohoServer]:
    with FakeZohoServer(desk) as server:
        yield server


@pytest.fixture
def sql_store(database_url: str) -> Iterator[SqlTokenStore]:
    engine = db.make_engine(database_url)
    yield SqlTokenStore(db.make_session_factory(engine))
    engine.dispose()


@pytest.fixture(params=["memory", "http-responses", "http-server"])
def desk_client(request: pytest.FixtureRequest, desk: FakeDesk) -> Iterator[Any]:
    if request.param == "memory":
        yield FakeDeskClient(desk)
    elif request.param == "http-responses":
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            route_into_app(mock, desk)
            yield http_client(desk, RESPONSES_BASE)
    else:
        store = request.getfixturevalue("sql_store")
        with FakeZohoServer(desk) as server:
            yield http_client(desk, server.url, store)


@pytest.fixture
def zoho_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, fake_server: FakeZohoServer
) -> FakeDesk:
    """The service pointed at the fake, with the worker's default patience (5 retries)."""
    desk = fake_server.desk
    env = {
        "DATABASE_URL": database_url,
        "ZOHO_DESK_BASE_URL": fake_server.url,
        "ZOHO_ACCOUNTS_URL": fake_server.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "WEBHOOK_AUTH": "token",
        "WEBHOOK_TOKEN": "t",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ZOHO_MAX_RETRIES", raising=False)
    return desk


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["zoho", "check"])
    return code, capsys.readouterr().out.splitlines()
