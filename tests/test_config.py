"""Settings: defaults, overrides, one-line errors naming the variable, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from integration.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    load_settings,
    setting_fields,
    settings_from_mapping,
)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_sqlite_and_dry_run() -> None:
    settings = settings_from_mapping({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.port == 8000
    assert settings.write_back_mode == "dry-run"


def test_full_zoho_credentials_make_write_back_live() -> None:
    settings = settings_from_mapping(
        {
            "ZOHO_ORG_ID": "1",
            "ZOHO_CLIENT_ID": "id",
            "ZOHO_CLIENT_SECRET": "s",
            "ZOHO_REFRESH_TOKEN": "r",
        }
    )
    assert settings.write_back_mode == "live"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "loud"),
        ("ZOHO_DC", "mars"),
        ("DATABASE_URL", "mysql://x"),
        ("ZOHO_DESK_BASE_URL", "desk.zoho.com"),
    ],
)
def test_a_wrong_value_names_the_variable_in_one_line(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_mapping({variable: value})
    message = str(error.value)
    assert message.startswith(f"{variable}: expected ")
    assert "\n" not in message


def test_a_bad_secret_is_not_echoed_and_secrets_do_not_print() -> None:
    settings = settings_from_mapping({"ZOHO_CLIENT_SECRET": "hunter2"})
    assert "hunter2" not in repr(settings)
    assert settings.zoho_client_secret.reveal() == "hunter2"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=9001\nLOG_LEVEL=DEBUG\n")
    settings = load_settings({"PORT": "9002"}, dotenv_path=dotenv)
    assert settings.port == 9002
    assert settings.log_level == "DEBUG"


def test_postgres_urls_use_psycopg3() -> None:
    settings = settings_from_mapping({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_every_setting_is_documented_in_config_example_env() -> None:
    example = (ROOT / "config.example.env").read_text()
    for _name, env, default, _doc in setting_fields():
        assert f"{env}={default}" in example, env


def test_bad_setting_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "integration", "run"],
        env={"PORT": "abc", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: PORT: expected an integer between 0 and 65535, got 'abc'"
    ]


@pytest.mark.parametrize(
    "value",
    [
        "2df92c1a973a48f595b75792c68b9c36",  # no hyphens
        "{2df92c1a-973a-48f5-95b7-5792c68b9c36}",  # braces
        "urn:uuid:2df92c1a-973a-48f5-95b7-5792c68b9c36",
        "2df92c1a-973a-48f5-95b7-5792c68b9c3g",  # not hex
    ],
)
def test_a_source_id_not_in_zohos_hyphenated_uuid_pattern_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_mapping({"ZOHO_SOURCE_ID": value})
    message = str(error.value)
    assert message.startswith("ZOHO_SOURCE_ID: expected ")
    assert "\n" not in message


@pytest.mark.parametrize(
    "value", ["2df92c1a-973a-48f5-95b7-5792c68b9c36", "2DF92C1A-973A-48F5-95B7-5792C68B9C36"]
)
def test_a_hyphenated_source_id_in_either_case_is_accepted(value: str) -> None:
    assert settings_from_mapping({"ZOHO_SOURCE_ID": value}).zoho_source_id == value


def test_the_default_webhook_fields_include_the_quote_status_within_zohos_limit() -> None:
    fields = settings_from_mapping({}).webhook_update_fields.split(",")
    assert "cf_quote_status" in fields
    assert {"status", "priority", "cf_eta"} <= set(fields)
    assert len(fields) <= 5


def test_more_than_five_webhook_update_fields_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_mapping(
            {"WEBHOOK_UPDATE_FIELDS": "status,priority,departmentId,accountId,cf_eta,cf_x"}
        )
    assert str(error.value).startswith("WEBHOOK_UPDATE_FIELDS: expected ")
