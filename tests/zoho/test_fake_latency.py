"""The fake Zoho Desk's latency option (benchmarks): every API call waits `latency_s` through the
given sleep function; the JWKS and the token endpoint do not. Checked with a recorder, not a
clock."""

from __future__ import annotations

from integration.zoho.fake import FakeDesk
from integration.zoho.fake_server import WebhookSigner, create_fake_app
from tests.zoho.conftest import SleepRecorder


def app_with(latency_s: float, sleep: SleepRecorder):  # type: ignore[no-untyped-def]
    desk = FakeDesk()
    ticket = desk.create_ticket(subject="Servicio caído")
    app = create_fake_app(desk, WebhookSigner(), latency_s=latency_s, sleep=sleep)
    token = desk.mint_token(
        {
            "grant_type": "refresh_token",
            "client_id": desk.client_id,
            "client_secret": desk.client_secret,
            "refresh_token": desk.refresh_token,
        }
    )["access_token"]
    headers = {"Authorization": f"Zoho-oauthtoken {token}", "orgId": desk.org_id}
    return app.test_client(), headers, ticket["id"]


def test_every_api_call_sleeps_the_latency() -> None:
    sleep = SleepRecorder()
    client, headers, ticket_id = app_with(0.05, sleep)
    assert client.get(f"/api/v1/tickets/{ticket_id}", headers=headers).status_code == 200
    answer = client.patch(
        f"/api/v1/tickets/{ticket_id}", headers=headers, json={"priority": "High"}
    )
    assert answer.status_code == 200
    assert sleep == [0.05, 0.05]


def test_the_jwks_and_the_token_endpoint_do_not_sleep() -> None:
    sleep = SleepRecorder()
    client, _headers, _ticket_id = app_with(0.05, sleep)
    assert client.get("/.well-known/jwks.json").status_code == 200
    assert client.post("/oauth/v2/token", data={"grant_type": "refresh_token"}).status_code == 200
    assert sleep == []


def test_no_latency_by_default() -> None:
    sleep = SleepRecorder()
    client, headers, ticket_id = app_with(0.0, sleep)
    assert client.get(f"/api/v1/tickets/{ticket_id}", headers=headers).status_code == 200
    assert sleep == []
