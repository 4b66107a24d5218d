"""Settings: read once, validated once, passed everywhere.

`load_settings()` merges `.env` (python-dotenv) under the process environment, parses every variable
into a typed field and raises `ConfigError` with one line naming the variable when a value is wrong.
Nothing here runs at import time. Secrets are wrapped in `Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite:///instance/integration.db"


class ConfigError(ValueError):
    """A setting has a wrong value. The message is one line naming the variable."""


class Secret:
    """A string that does not print itself (logs, reprs, tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


# --- parsers: each takes the raw string and returns the value or raises ValueError(expected) ---


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"an integer between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"an integer between {low} and {high}")
        return value

    return parse


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"a number between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"a number between {low} and {high}")
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        lowered = {a.lower(): a for a in allowed}
        if value.lower() not in lowered:
            raise ValueError("one of " + ", ".join(allowed))
        return lowered[value.lower()]

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("true or false")


def _text(raw: str) -> str:
    return raw.strip()


def _secret(raw: str) -> Secret:
    return Secret(raw.strip())


def _url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL")
    return value


def _database_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("sqlite:", "postgres")):
        raise ValueError("a sqlite:/// or postgresql+psycopg:// URL")
    if value.startswith("postgres://") or value.startswith("postgresql://"):
        # Heroku-style URLs: use psycopg 3, the driver we ship.
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


# Zoho's pattern for ignoreSourceId/sourceId: hex in 8-4-4-4-12 groups, hyphens required (uuid.UUID
# would also take the un-hyphenated, braced or urn: forms, which Zoho refuses).
_ZOHO_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _uuid_or_empty(raw: str) -> str:
    value = raw.strip()
    if value and not _ZOHO_UUID.fullmatch(value):
        raise ValueError("a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) or nothing")
    return value


def _field_names(most: int) -> Callable[[str], str]:
    """A comma-separated list of at most `most` field API names, returned normalised."""

    def parse(raw: str) -> str:
        names = [name.strip() for name in raw.split(",") if name.strip()]
        if len(names) > most:
            raise ValueError(f"at most {most} comma-separated field API names ({len(names)} given)")
        return ",".join(names)

    return parse


def _existing_file(raw: str) -> str:
    value = raw.strip()
    if value and not Path(value).is_file():
        raise ValueError("the path of an existing file")
    return value


ECHO_MODES = ("sent", "fields")


def _echo_modes(raw: str) -> str:
    modes = [m.strip().lower() for m in raw.split(",") if m.strip()]
    if "agent" in modes:
        raise ValueError(
            "sent and/or fields (agent is no longer accepted: the token's owner may also work "
            "tickets, so a change by that agent is not proof of our write)"
        )
    if any(m not in ECHO_MODES for m in modes):
        raise ValueError("a comma-separated list of " + ", ".join(ECHO_MODES) + ", or nothing")
    return ",".join(modes)


def _setting(env: str, parse: Callable[[str], Any], default: str, doc: str) -> Any:
    return field(metadata={"env": env, "parse": parse, "default": default, "doc": doc})


ZOHO_DATA_CENTRES = ("com", "eu", "in", "com.au", "jp", "com.cn", "ca", "sa", "sg", "ae")


@dataclass(frozen=True)
class Settings:
    """Every setting of the service. `config.example.env` documents the same list."""

    database_url: str = _setting(
        "DATABASE_URL", _database_url, DEFAULT_DATABASE_URL, "SQLAlchemy URL of the database"
    )
    db_busy_timeout_ms: int = _setting(
        "DB_BUSY_TIMEOUT_MS", _int_between(0, 600_000), "5000", "SQLite busy timeout"
    )
    db_connect_timeout_s: int = _setting(
        "DB_CONNECT_TIMEOUT_S", _int_between(1, 120), "3", "PostgreSQL connect timeout"
    )
    host: str = _setting("HOST", _text, "127.0.0.1", "address `run` listens on")
    port: int = _setting(
        "PORT", _int_between(0, 65535), "8000", "port `run` listens on (0: any free port)"
    )
    web_workers: int = _setting("WEB_WORKERS", _int_between(1, 64), "2", "gunicorn workers")
    web_threads: int = _setting("WEB_THREADS", _int_between(1, 64), "4", "threads per worker")
    log_level: str = _setting(
        "LOG_LEVEL", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "log level"
    )
    log_format: str = _setting("LOG_FORMAT", _choice("text", "json"), "text", "log line format")
    sla_policy_file: str = _setting(
        "SLA_POLICY_FILE", _existing_file, "", "policy TOML; empty = the shipped Ignus policy"
    )
    zoho_dc: str = _setting(
        "ZOHO_DC",
        _choice(*ZOHO_DATA_CENTRES),
        "com",
        "Zoho data centre: " + ", ".join(ZOHO_DATA_CENTRES),
    )
    zoho_desk_base_url: str = _setting(
        "ZOHO_DESK_BASE_URL", _url, "", "override of the Desk host (API at $URL/api/v1)"
    )
    zoho_accounts_url: str = _setting(
        "ZOHO_ACCOUNTS_URL", _url, "", "override of the Zoho accounts (OAuth) host"
    )
    zoho_org_id: str = _setting("ZOHO_ORG_ID", _text, "", "Zoho Desk organisation id")
    zoho_client_id: str = _setting("ZOHO_CLIENT_ID", _text, "", "OAuth client id")
    zoho_client_secret: Secret = _setting("ZOHO_CLIENT_SECRET", _secret, "", "OAuth client secret")
    zoho_refresh_token: Secret = _setting("ZOHO_REFRESH_TOKEN", _secret, "", "OAuth refresh token")
    zoho_timeout_connect_s: float = _setting(
        "ZOHO_TIMEOUT_CONNECT_S", _float_between(0.1, 60), "5", "connect timeout of Zoho calls"
    )
    zoho_timeout_read_s: float = _setting(
        "ZOHO_TIMEOUT_READ_S", _float_between(0.1, 300), "30", "read timeout of Zoho calls"
    )
    zoho_max_concurrency: int = _setting(
        "ZOHO_MAX_CONCURRENCY", _int_between(1, 25), "4", "parallel Zoho calls per process"
    )
    zoho_reuse_read_s: float = _setting(
        "ZOHO_REUSE_READ_S",
        _float_between(0, 60),
        "5",
        "a write of our own fields may use the ticket as the worker read it from Zoho this "
        "many seconds before, instead of reading it again (a write that sets the priority "
        "always reads first; 0: every write reads first)",
    )
    zoho_max_retries: int = _setting(
        "ZOHO_MAX_RETRIES", _int_between(0, 20), "5", "retries of a retryable Zoho error"
    )
    zoho_backoff_s: float = _setting(
        "ZOHO_BACKOFF_S",
        _float_between(0.01, 600),
        "0.5",
        "first wait before retrying a Zoho call (doubles each retry, with jitter)",
    )
    zoho_backoff_max_s: float = _setting(
        "ZOHO_BACKOFF_MAX_S",
        _float_between(0.01, 3600),
        "30",
        "longest wait between retries of a Zoho call (Retry-After is honoured up to 4x this)",
    )
    zoho_token_margin_s: int = _setting(
        "ZOHO_TOKEN_MARGIN_S",
        _int_between(0, 3000),
        "300",
        "refresh the access token this long before it expires",
    )
    zoho_credits_pause_s: int = _setting(
        "ZOHO_CREDITS_PAUSE_S",
        _int_between(60, 86400),
        "3600",
        "pause after THRESHOLD_EXCEEDED when Zoho sends no Retry-After",
    )
    zoho_source_id: str = _setting(
        "ZOHO_SOURCE_ID",
        _uuid_or_empty,
        "",
        "UUID sent as the sourceId header on our writes (pair with the webhook's ignoreSourceId)",
    )
    webhook_auth: str = _setting(
        "WEBHOOK_AUTH",
        _choice("jwt", "token", "jwt+token"),
        "jwt",
        "how deliveries are authenticated: Zoho's X-ZDesk-JWT, a ?token= in the URL, or both",
    )
    webhook_token: Secret = _setting(
        "WEBHOOK_TOKEN", _secret, "", "shared secret expected as ?token= (WEBHOOK_AUTH token)"
    )
    zoho_webhook_id: str = _setting(
        "ZOHO_WEBHOOK_ID", _text, "", "id of our Zoho webhook (the JWT audience webhookId:<id>)"
    )
    # Zoho takes at most 5 field names per Ticket_Update subscription. Kept: status (holds,
    # closing), priority (an agent's change restarts the targets), accountId (picks a
    # dedicated-support plan, i.e. other targets), cf_eta (the operations due date),
    # cf_quote_status (billable: the clock stops while the quote awaits authorisation).
    # Dropped: departmentId, which only decides whether we also write Zoho's dueDate (policy
    # `zoho_sla_departments`); the ticket is re-fetched on every event, so a department move is
    # picked up on the ticket's next event or reconciliation poll, while our cf_sla_* deadlines
    # stay right in the meantime.
    webhook_update_fields: str = _setting(
        "WEBHOOK_UPDATE_FIELDS",
        _field_names(5),
        "status,priority,accountId,cf_eta,cf_quote_status",
        "Ticket_Update fires only when one of these (max 5) changes; never our own fields",
    )
    webhook_max_body_bytes: int = _setting(
        "WEBHOOK_MAX_BODY_BYTES",
        _int_between(1024, 64 * 1024 * 1024),
        "1048576",
        "larger deliveries are refused with 413",
    )
    webhook_jwt_leeway_s: int = _setting(
        "WEBHOOK_JWT_LEEWAY_S", _int_between(0, 3600), "60", "clock skew allowed on JWT exp/iat"
    )
    webhook_jwks_timeout_s: float = _setting(
        "WEBHOOK_JWKS_TIMEOUT_S",
        _float_between(0.1, 4),
        "2",
        "timeout of a JWKS fetch (the ack must stay under Zoho's 5 s)",
    )
    echo_detection: str = _setting(
        "ECHO_DETECTION",
        _echo_modes,
        "sent,fields",
        "how Zoho's echo of our own PATCH is recognised in the audit: sent (its modifiedTime is "
        "that of our PATCH's answer), fields (only our fields changed); deadlines never depend "
        "on it, and the token's agent id alone never makes a change ours",
    )
    classify_window_s: int = _setting(
        "CLASSIFY_WINDOW_S",
        _int_between(0, 30 * 86400),
        "3600",
        "a ticket first seen within this time of its creation is classified and gets the "
        "policy's priority; an older one (it predates the service) keeps its priority",
    )
    worker_batch: int = _setting(
        "WORKER_BATCH", _int_between(1, 1000), "20", "events (and writes) claimed per round"
    )
    worker_poll_s: float = _setting(
        "WORKER_POLL_S", _float_between(0.01, 60), "0.5", "idle wait between rounds"
    )
    worker_lease_s: int = _setting(
        "WORKER_LEASE_S",
        _int_between(1, 3600),
        "60",
        "a claimed row returns to the queue if its worker is silent this long",
    )
    worker_max_attempts: int = _setting(
        "WORKER_MAX_ATTEMPTS",
        _int_between(1, 100),
        "8",
        "attempts of an event or a write before it is marked failed",
    )
    worker_backoff_s: float = _setting(
        "WORKER_BACKOFF_S",
        _float_between(0.01, 3600),
        "5",
        "first retry delay of a failed event or write (doubles each time)",
    )
    worker_backoff_max_s: float = _setting(
        "WORKER_BACKOFF_MAX_S", _float_between(0.01, 86400), "900", "longest retry delay"
    )
    worker_max_waits: int = _setting(
        "WORKER_MAX_WAITS",
        _int_between(1, 100_000),
        "300",
        "times an event or a write is put back because Zoho cannot be called (credits spent, "
        "re-authorisation required, checked every 5 min) before it is marked failed",
    )

    clock_enabled: bool = _setting(
        "CLOCK_ENABLED", _bool, "true", "run the clock inside `run` (the `clock` process is apart)"
    )
    clock_interval_s: int = _setting(
        "CLOCK_INTERVAL_S",
        _int_between(1, 3600),
        "60",
        "how often the clock re-evaluates tickets whose status may have changed with time",
    )
    clock_poll_interval_s: int = _setting(
        "CLOCK_POLL_INTERVAL_S",
        _int_between(0, 86400),
        "300",
        "how often Zoho is asked for tickets modified since the last poll (0: never)",
    )
    clock_poll_overlap_s: int = _setting(
        "CLOCK_POLL_OVERLAP_S",
        _int_between(0, 86400),
        "600",
        "each poll reads again this far back before its cursor (late-indexed changes)",
    )
    clock_sweep_batch: int = _setting(
        "CLOCK_SWEEP_BATCH", _int_between(1, 100_000), "500", "tickets re-evaluated per sweep"
    )
    notice_tags: bool = _setting(
        "NOTICE_TAGS", _bool, "true", "tag tickets on warnings and breaches (sla-en-riesgo...)"
    )
    notice_comments: bool = _setting(
        "NOTICE_COMMENTS",
        _bool,
        "true",
        "a private comment to the assignee on warnings, breaches and reminders",
    )
    notice_office_hours: bool = _setting(
        "NOTICE_OFFICE_HOURS",
        _bool,
        "true",
        "comments and chat messages of office-hours tickets wait for the next opening (the "
        "status field is written at once)",
    )
    chat_webhook_url: Secret = _setting(
        "CHAT_WEBHOOK_URL",
        _secret,
        "",
        'Slack-compatible incoming webhook for warnings and breaches (JSON {"text": ...})',
    )

    report_dir: str = _setting(
        "REPORT_DIR",
        _text,
        "",
        "folder where the clock writes the previous month's HTML compliance report on the 1st "
        "(sla-report-YYYY-MM.html; created if missing; empty: no file)",
    )
    report_chat_webhook_url: Secret = _setting(
        "REPORT_CHAT_WEBHOOK_URL",
        _secret,
        "",
        "Slack-compatible incoming webhook that gets the monthly report's summary on the 1st "
        "(empty: none; it may be CHAT_WEBHOOK_URL's)",
    )
    report_lang: str = _setting(
        "REPORT_LANG", _choice("es", "en"), "es", "language of the monthly report and summary"
    )
    report_hour: int = _setting(
        "REPORT_HOUR",
        _int_between(0, 23),
        "8",
        "local hour of the 1st (policy time zone) from which the monthly report is sent; a clock "
        "that was down then sends it when it runs again",
    )

    ready_inbox_max_age_s: int = _setting(
        "READY_INBOX_MAX_AGE_S",
        _int_between(0, 7 * 86400),
        "900",
        "/readyz fails while the oldest pending event has waited longer than this (0: report only)",
    )
    ready_outbox_max_failed: int = _setting(
        "READY_OUTBOX_MAX_FAILED",
        _int_between(0, 1_000_000),
        "50",
        "/readyz fails while more write-backs than this are failed (0: report only)",
    )
    ready_worker_max_age_s: int = _setting(
        "READY_WORKER_MAX_AGE_S",
        _int_between(0, 86400),
        "120",
        "/readyz fails while the worker's last heartbeat (every 10 s) is older than this "
        "(0: report only)",
    )
    ready_clock_max_age_s: int = _setting(
        "READY_CLOCK_MAX_AGE_S",
        _int_between(0, 86400),
        "300",
        "/readyz fails while the clock's last heartbeat (every 10 s) is older than this "
        "(0: report only)",
    )
    metrics_cache_s: float = _setting(
        "METRICS_CACHE_S",
        _float_between(0, 3600),
        "10",
        "/metrics reuses the database figures it read this recently (0: read on every scrape)",
    )
    retention_days: int = _setting(
        "RETENTION_DAYS",
        _int_between(0, 36500),
        "90",
        "done inbox events, audit rows, and the observations of tickets closed or deleted and "
        "quiet this long are pruned (0: keep forever)",
    )
    retention_batch: int = _setting(
        "RETENTION_BATCH", _int_between(1, 100_000), "1000", "rows deleted per transaction"
    )
    clock_prune_interval_s: int = _setting(
        "CLOCK_PRUNE_INTERVAL_S",
        _int_between(60, 7 * 86400),
        "3600",
        "how often the clock prunes what RETENTION_DAYS no longer keeps",
    )

    @property
    def zoho_credentials_unset(self) -> list[str]:
        """The four Zoho credentials that are not set, in their documented order."""
        given = {
            "ZOHO_ORG_ID": bool(self.zoho_org_id),
            "ZOHO_CLIENT_ID": bool(self.zoho_client_id),
            "ZOHO_CLIENT_SECRET": bool(self.zoho_client_secret),
            "ZOHO_REFRESH_TOKEN": bool(self.zoho_refresh_token),
        }
        return [name for name, present in given.items() if not present]

    @property
    def zoho_credentials_missing(self) -> list[str]:
        """The Zoho credentials not set when some OAuth credential is: a half-configured live
        mode. (ZOHO_ORG_ID alone is dry-run with Zoho's signed webhooks: the JWT needs it.)"""
        unset = self.zoho_credentials_unset
        if {"ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"} <= set(unset):
            return []
        return unset

    @property
    def webhook_auth_missing(self) -> list[str]:
        """The settings WEBHOOK_AUTH needs and does not have (every delivery would be a 401)."""
        missing: list[str] = []
        if "jwt" in self.webhook_auth:
            if not self.zoho_org_id:
                missing.append("ZOHO_ORG_ID")
            if not self.zoho_webhook_id:
                missing.append("ZOHO_WEBHOOK_ID")
        if "token" in self.webhook_auth and not self.webhook_token:
            missing.append("WEBHOOK_TOKEN")
        return missing

    @property
    def zoho_configured(self) -> bool:
        """Write-back is live only with a full set of credentials; otherwise dry-run."""
        return bool(
            self.zoho_org_id
            and self.zoho_client_id
            and self.zoho_client_secret
            and self.zoho_refresh_token
        )

    @property
    def write_back_mode(self) -> str:
        return "live" if self.zoho_configured else "dry-run"

    def replace(self, **changes: Any) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)


def setting_fields() -> list[tuple[str, str, str, str]]:
    """(field name, variable, default, meaning) for every setting, in declaration order."""
    return [
        (f.name, f.metadata["env"], f.metadata["default"], f.metadata["doc"])
        for f in fields(Settings)
    ]


def settings_from_mapping(
    values: Mapping[str, str], only: Collection[str] | None = None
) -> Settings:
    """Parse settings from a mapping of variable name to raw string (defaults fill the rest).
    With `only` (variable names), the others keep their defaults and are not read: a command
    that needs one setting does not fail on an unrelated bad one."""
    parsed: dict[str, Any] = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        raw = values.get(env) if only is None or env in only else None
        if raw is None:
            raw = f.metadata["default"]
        try:
            parsed[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            shown = "<hidden>" if f.type == "Secret" else repr(raw)
            raise ConfigError(f"{env}: expected {exc}, got {shown}") from None
    return Settings(**parsed)


# The dotenv file read under the environment: `.env` in the working directory unless this variable
# names another file; set to nothing, no file is read (the test suite sets it so a developer's
# `.env` never changes a test).
DOTENV_VARIABLE = "INTEGRATION_DOTENV"


def dotenv_file(environ: Mapping[str, str] | None = None) -> str | None:
    """The dotenv file to read, or None (INTEGRATION_DOTENV set to nothing)."""
    value = (os.environ if environ is None else environ).get(DOTENV_VARIABLE, ".env")
    return value.strip() or None


def load_settings(
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = "",
    only: Collection[str] | None = None,
) -> Settings:
    """Settings from the dotenv file (when present) overridden by the environment. `dotenv_path`
    "" means the default (`dotenv_file()`), None no file; `only` as in `settings_from_mapping`."""
    if dotenv_path == "":
        dotenv_path = dotenv_file(environ)
    merged: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return settings_from_mapping(merged, only=only)
