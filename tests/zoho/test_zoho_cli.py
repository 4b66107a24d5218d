"""`zoho check` and `zoho webhook ...` against the fake Zoho Desk served on a port."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.app import create_app
from integration.cli import main
from integration.config import settings_from_mapping
from integration.zoho.fake import ZOHO_DEFAULT_PRIORITIES, FakeDesk
from integration.zoho.fake_server import FakeZohoServer


@pytest.fixture
def zoho_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str,
             fake_server: FakeZohoServer) -> dict[str, str]:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # no stray .env
    desk = fake_server.desk
    env = {
        "DATABASE_URL": database_url,
        "ZOHO_DESK_BASE_URL": fake_server.url,
        "ZOHO_ACCOUNTS_URL": fake_server.url,
        "ZOHO_ORG_ID": desk.org_id,
        "ZOHO_CLIENT_ID": desk.client_id,
        "ZOHO_CLIENT_SECRET": desk.client_secret,
        "ZOHO_REFRESH_TOKEN": desk.refresh_token,
        "ZOHO_MAX_RETRIES": "0",
        "ZOHO_WEBHOOK_ID": "5001",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_check_passes_on_a_complete_portal_and_shows_statuses(zoho_env, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[ok]      access token" in out
    assert "[ok]      field cf_sla_response_due: DateTime" in out
    assert "Waiting on customer (On Hold, pauses)" in out
    assert "[ok]      picklist priority" in out and "[ok]      picklist cf_sla_status" in out
    assert "[ok]      integration agent" in out
    assert "[warn]    webhook: not registered" in out


def test_check_asks_for_the_webhook_id_when_jwt_is_checked(zoho_env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ZOHO_WEBHOOK_ID")
    assert main(["zoho", "check"]) == 1
    assert "[missing] ZOHO_WEBHOOK_ID" in capsys.readouterr().out


def test_check_fails_naming_a_missing_field(zoho_env, fake_server, capsys) -> None:  # type: ignore[no-untyped-def]
    desk: FakeDesk = fake_server.desk
    desk.custom_fields = [f for f in desk.custom_fields if f["apiName"] != "cf_sla_rule"]
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[missing] field cf_sla_rule: create a Text/Textarea ticket field" in out


def test_check_reports_a_revoked_refresh_token(zoho_env, fake_server, capsys) -> None:  # type: ignore[no-untyped-def]
    fake_server.desk.refresh_revoked = True
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[failed]  access token: invalid_code" in out


def test_check_without_credentials_says_what_to_set(monkeypatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for key in ("ZOHO_ORG_ID", "ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[missing] credentials: set ZOHO_ORG_ID, ZOHO_CLIENT_ID" in out


def test_webhook_register_is_idempotent(zoho_env, fake_server, capsys) -> None:  # type: ignore[no-untyped-def]
    url = "https://sla.ignus.example/webhooks/zoho-desk"
    assert main(["zoho", "webhook", "register", "--url", url]) == 0
    assert main(["zoho", "webhook", "register", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "webhook created" in out and "webhook updated" in out
    hooks = fake_server.desk.list_webhooks()
    assert len(hooks) == 1
    subscriptions = hooks[0]["subscriptions"]
    assert subscriptions["Ticket_Update"]["includePrevState"] is True
    assert "cf_sla_status" not in subscriptions["Ticket_Update"]["fields"]
    assert subscriptions["Ticket_Thread_Add"] == {"direction": "out"}
    assert set(subscriptions) == {
        "Ticket_Add",
        "Ticket_Update",
        "Ticket_Thread_Add",
        "Ticket_Delete",
    }


def test_webhook_register_puts_the_token_in_the_url(zoho_env, fake_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WEBHOOK_AUTH", "token")
    monkeypatch.setenv("WEBHOOK_TOKEN", "s3cret-token")
    assert (
        main(["zoho", "webhook", "register", "--url", "https://x.example/webhooks/zoho-desk"]) == 0
    )
    assert fake_server.desk.list_webhooks()[0]["url"].endswith("?token=s3cret-token")


def test_webhook_list_hides_the_token_and_delete_removes_ours(
    zoho_env, fake_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WEBHOOK_AUTH", "token")
    monkeypatch.setenv("WEBHOOK_TOKEN", "s3cret-token")
    main(["zoho", "webhook", "register", "--url", "https://x.example/webhooks/zoho-desk"])
    capsys.readouterr()
    assert main(["zoho", "webhook", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ignus-sla-service" in listing and "s3cret-token" not in listing
    assert main(["zoho", "webhook", "delete"]) == 0
    assert fake_server.desk.list_webhooks() == []


def test_inbox_status_shows_when_zoho_needs_reauthorisation(zoho_env, fake_server, capsys) -> None:  # type: ignore[no-untyped-def]
    fake_server.desk.refresh_revoked = True
    main(["zoho", "check"])
    capsys.readouterr()
    assert main(["inbox", "status"]) == 0
    assert "write-back: live (re-authorisation required: invalid_code)" in capsys.readouterr().out


def test_readiness_names_zoho_auth_when_reauthorisation_is_required(zoho_env, fake_server) -> None:  # type: ignore[no-untyped-def]
    fake_server.desk.refresh_revoked = True
    heartbeats_not_required = {"READY_WORKER_MAX_AGE_S": "0", "READY_CLOCK_MAX_AGE_S": "0"}
    app = create_app(settings_from_mapping({**zoho_env, **heartbeats_not_required}))
    container = app.extensions["integration"]
    with pytest.raises(Exception, match="re-authorisation"):
        container.desk.get_ticket("1")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["zoho_auth"]
    container.dispose()


def test_webhook_register_recreates_the_webhook_when_the_url_is_too_long_to_update(
    zoho_env, fake_server, capsys
) -> None:  # type: ignore[no-untyped-def]
    # Zoho takes a URL of up to 500 characters on create but only 100 on update.
    short_url = "https://x.example/webhooks/zoho-desk"
    assert main(["zoho", "webhook", "register", "--url", short_url]) == 0
    old_id = fake_server.desk.list_webhooks()[0]["id"]
    capsys.readouterr()
    long_url = "https://sla.ignus.example/" + "a" * 90 + "/webhooks/zoho-desk"
    assert main(["zoho", "webhook", "register", "--url", long_url]) == 0
    out = capsys.readouterr().out
    hooks = fake_server.desk.list_webhooks()
    assert [h["url"] for h in hooks] == [long_url]
    new_id = hooks[0]["id"]
    assert new_id != old_id
    assert f"webhook recreated: id {new_id}" in out
    assert f"ZOHO_WEBHOOK_ID={new_id}" in out and "must be updated" in out


def test_webhook_register_refuses_a_url_zoho_cannot_store(zoho_env, fake_server, capsys) -> None:  # type: ignore[no-untyped-def]
    long_url = "https://sla.ignus.example/" + "a" * 500
    assert main(["zoho", "webhook", "register", "--url", long_url]) == 2
    assert "500 characters" in capsys.readouterr().err
    assert fake_server.desk.list_webhooks() == []


def test_check_fails_when_the_priority_picklist_lacks_a_policy_priority(
    zoho_env, fake_server, capsys
) -> None:  # type: ignore[no-untyped-def]
    fake_server.desk.set_picklist("priority", ZOHO_DEFAULT_PRIORITIES)  # a new portal: no Urgent
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[failed]  picklist priority: missing Urgent: add it in Setup > Customization" in out


def test_check_fails_naming_an_sla_status_missing_from_its_picklist(
    zoho_env, fake_server, capsys
) -> None:  # type: ignore[no-untyped-def]
    statuses = ["On track", "At risk", "Breached", "Paused", "Met"]
    fake_server.desk.set_picklist("cf_sla_status", statuses)
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[failed]  picklist cf_sla_status: missing Waiting on third party, ETA pending" in out


def test_check_warns_when_the_token_acts_as_a_person_who_is_assigned_tickets(
    zoho_env, fake_server, capsys
) -> None:  # type: ignore[no-untyped-def]
    desk: FakeDesk = fake_server.desk
    desk.create_ticket(subject="x", assigneeId=desk.agent["id"])
    code = main(["zoho", "check"])
    out = capsys.readouterr().out
    assert code == 0
    assert "[warn]    integration agent: " in out
    assert "dedicated integration agent" in out
