"""OAuth for Zoho Desk: one cached access token shared by every thread and process.

Zoho mints at most about 10 access tokens per refresh token per 10 minutes, so the token lives in
the database and refreshing is single-flight: a thread lock inside a process, and a lease row
(`oauth_tokens.lease_until`) across processes. Whoever holds the lease refreshes; everyone else
waits for the new token. `invalid_grant`/`invalid_client` put the integration into a visible
"re-authorisation required" state that stops calls (no retry storm against the token endpoint).

Each process keeps the shared state it last read in memory (`TokenManager.call_state`), so a call
does not read the database: it is read again when the token is missing or within the margin of its
expiry, after a 401 (`invalidate`), after this process changed it (refresh, pause, re-authorisation)
and otherwise at least every `recheck_s` seconds, which bounds how long a flag set by another
process (re-authorisation required, calls paused for spent credits) goes unseen here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..models import OAuthToken
from .errors import ReauthorizationRequired, ServerError, TokenEndpointBusy

log = logging.getLogger(__name__)

# Errors of the token endpoint that no retry can cure: the grant or the client is wrong or revoked.
FATAL_TOKEN_ERRORS = {
    "invalid_grant",
    "invalid_code",
    "invalid_client",
    "invalid_client_secret",
    "unauthorized_client",
    "invalid_refresh_token",
}


@dataclass(frozen=True)
class TokenState:
    access_token: str | None = None
    expires_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    reauth_required: bool = False
    reauth_reason: str = ""
    calls_paused_until: datetime | None = None
    refresh_count: int = 0
    refresh_fingerprint: str = ""


class TokenStore(Protocol):
    """Where the shared token state lives (the database in production)."""

    def read(self) -> TokenState: ...

    def try_lease(self, owner: str, now: datetime, until: datetime) -> bool: ...

    def save_token(self, owner: str, token: str, expires_at: datetime, now: datetime) -> None: ...

    def release(self, owner: str) -> None: ...

    def invalidate(self, token: str) -> None: ...

    def mark_reauth(self, reason: str, now: datetime) -> None: ...

    def reset_for(self, fingerprint: str, now: datetime) -> None: ...

    def pause_calls(self, until: datetime | None, now: datetime) -> None: ...


def _reauth_values(reason: str) -> dict[str, object]:
    """The grant was refused: no token, no lease, calls stop until new credentials."""
    return {
        "reauth_required": True,
        "reauth_reason": reason[:500],
        "access_token": None,
        "expires_at": None,
        "lease_owner": None,
        "lease_until": None,
    }


def _reset_values(fingerprint: str) -> dict[str, object]:
    """New credentials: forget the old token and any re-authorisation flag."""
    return {
        "refresh_fingerprint": fingerprint,
        "reauth_required": False,
        "reauth_reason": "",
        "access_token": None,
        "expires_at": None,
    }


class SqlTokenStore:
    """TokenStore on the `oauth_tokens` table. Every change is one conditional statement."""

    def __init__(self, sessions: sessionmaker[Session], name: str = "zoho") -> None:
        from ..db import read_only

        self.sessions = sessions
        self.reads = read_only(sessions)
        self.name = name

    def _ensure_row(self, session: Session, now: datetime) -> None:
        if session.get(OAuthToken, self.name) is None:
            try:
                with session.begin_nested():
                    session.add(
                        OAuthToken(
                            name=self.name,
                            refresh_fingerprint="",
                            reauth_required=False,
                            reauth_reason="",
                            refresh_count=0,
                            updated_at=now,
                        )
                    )
            except IntegrityError:  # another process created it first
                pass

    def _update(self, *where: object, now: datetime | None = None, **values: object) -> int:
        now = now or datetime.now(UTC)
        with self.sessions() as session, session.begin():
            self._ensure_row(session, now)
            result = session.execute(
                update(OAuthToken)
                .where(OAuthToken.name == self.name, *where)  # type: ignore[arg-type]
                .values(updated_at=now, **values)
            )
            return result.rowcount  # type: ignore[attr-defined, no-any-return]

    def read(self) -> TokenState:
        with self.reads() as session:
            row = session.scalar(select(OAuthToken).where(OAuthToken.name == self.name))
            if row is None:
                return TokenState()
            return TokenState(
                access_token=row.access_token,
                expires_at=row.expires_at,
                lease_owner=row.lease_owner,
                lease_until=row.lease_until,
                reauth_required=row.reauth_required,
                reauth_reason=row.reauth_reason,
                calls_paused_until=row.calls_paused_until,
                refresh_count=row.refresh_count,
                refresh_fingerprint=row.refresh_fingerprint,
            )

    def try_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        free = (OAuthToken.lease_until.is_(None)) | (OAuthToken.lease_until < now)
        return self._update(free, now=now, lease_owner=owner, lease_until=until) == 1

    def save_token(self, owner: str, token: str, expires_at: datetime, now: datetime) -> None:
        self._update(
            now=now,
            access_token=token,
            expires_at=expires_at,
            lease_owner=None,
            lease_until=None,
            refresh_count=OAuthToken.refresh_count + 1,
        )

    def release(self, owner: str) -> None:
        self._update(OAuthToken.lease_owner == owner, lease_owner=None, lease_until=None)

    def invalidate(self, token: str) -> None:
        self._update(OAuthToken.access_token == token, access_token=None, expires_at=None)

    def mark_reauth(self, reason: str, now: datetime) -> None:
        self._update(now=now, **_reauth_values(reason))

    def reset_for(self, fingerprint: str, now: datetime) -> None:
        """New credentials configured: forget the old token and any re-authorisation flag."""
        self._update(
            OAuthToken.refresh_fingerprint != fingerprint, now=now, **_reset_values(fingerprint)
        )

    def pause_calls(self, until: datetime | None, now: datetime) -> None:
        self._update(now=now, calls_paused_until=until)


class MemoryTokenStore:
    """TokenStore for one process (tests, dry runs)."""

    def __init__(self) -> None:
        self.state = TokenState()
        self._lock = threading.Lock()

    def _set(self, **values: object) -> None:
        from dataclasses import replace

        self.state = replace(self.state, **values)  # type: ignore[arg-type]

    def read(self) -> TokenState:
        return self.state

    def try_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            if self.state.lease_until is not None and self.state.lease_until >= now:
                return False
            self._set(lease_owner=owner, lease_until=until)
            return True

    def save_token(self, owner: str, token: str, expires_at: datetime, now: datetime) -> None:
        with self._lock:
            self._set(
                access_token=token,
                expires_at=expires_at,
                lease_owner=None,
                lease_until=None,
                refresh_count=self.state.refresh_count + 1,
            )

    def release(self, owner: str) -> None:
        with self._lock:
            if self.state.lease_owner == owner:
                self._set(lease_owner=None, lease_until=None)

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self.state.access_token == token:
                self._set(access_token=None, expires_at=None)

    def mark_reauth(self, reason: str, now: datetime) -> None:
        with self._lock:
            self._set(**_reauth_values(reason))

    def reset_for(self, fingerprint: str, now: datetime) -> None:
        with self._lock:
            if self.state.refresh_fingerprint != fingerprint:
                self._set(**_reset_values(fingerprint))

    def pause_calls(self, until: datetime | None, now: datetime) -> None:
        with self._lock:
            self._set(calls_paused_until=until)


@dataclass(frozen=True)
class FreshToken:
    access_token: str
    expires_in_s: float


class OAuthRefresher:
    """Calls Zoho's token endpoint with the refresh-token grant."""

    def __init__(
        self,
        http: requests.Session,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.http = http
        self.token_url = token_url
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self.timeout = timeout

    def __call__(self) -> FreshToken:
        try:
            response = self.http.post(self.token_url, data=self._form, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ServerError(0, "TOKEN_ENDPOINT_UNREACHABLE", type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        if error in FATAL_TOKEN_ERRORS or (response.status_code == 401 and not error):
            raise ReauthorizationRequired(
                error or f"token endpoint answered {response.status_code}"
            )
        if response.status_code >= 500:
            raise ServerError(response.status_code, "TOKEN_ENDPOINT_ERROR", error or "server error")
        if error or response.status_code != 200 or "access_token" not in body:
            # Zoho answers "Access Denied" (often with HTTP 200) when too many tokens were minted.
            raise TokenEndpointBusy(error or f"token endpoint answered {response.status_code}")
        return FreshToken(str(body["access_token"]), float(body.get("expires_in", 3600)))


def fingerprint(refresh_token: str, client_id: str) -> str:
    return hashlib.sha256(f"{client_id}:{refresh_token}".encode()).hexdigest()[:32]


class TokenManager:
    """Hands out a valid access token; refreshes once per expiry across threads and processes.

    Building one touches nothing: the reset for new credentials (a database write) happens once, on
    the first token use or state read, so the service starts while the database is down.
    """

    def __init__(
        self,
        store: TokenStore,
        refresher: Callable[[], FreshToken],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        margin_s: float = 300.0,
        lease_s: float = 30.0,
        poll_s: float = 0.05,
        recheck_s: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        credentials_fingerprint: str = "",
    ) -> None:
        self.store = store
        self.refresher = refresher
        self.clock = clock
        self.margin = timedelta(seconds=margin_s)
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.sleep = sleep
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._fingerprint = credentials_fingerprint
        self._reset_done = not credentials_fingerprint
        self._reset_lock = threading.Lock()
        self.recheck = timedelta(seconds=recheck_s)
        # The shared state as last read here: (state, read at, read number). A read that began
        # before the cached one (a slow reader) never replaces it.
        self._cache: tuple[TokenState, datetime, int] | None = None
        self._cache_lock = threading.Lock()
        self._reads_begun = 0

    def _ensure_reset(self) -> None:
        """New credentials configured: forget the old token and re-authorisation flag, once.
        A failure (database down) leaves it to be tried again by the next caller."""
        if self._reset_done:
            return
        with self._reset_lock:
            if not self._reset_done:
                self.store.reset_for(self._fingerprint, self.clock())
                self._reset_done = True

    def _valid(self, state: TokenState, now: datetime) -> str | None:
        if state.access_token and state.expires_at and state.expires_at - self.margin > now:
            return state.access_token
        return None

    def _read(self) -> TokenState:
        """The shared state, read from the store now; it becomes the memory copy."""
        with self._cache_lock:
            self._reads_begun += 1
            number = self._reads_begun
        read_at = self.clock()
        state = self.store.read()
        with self._cache_lock:
            if self._cache is None or self._cache[2] < number:
                self._cache = (state, read_at, number)
        return state

    def _forget(self, token: str | None = None) -> None:
        """Drop the memory copy (only if it holds `token`, when given): the next call reads."""
        with self._cache_lock:
            if self._cache is not None and (token is None or self._cache[0].access_token == token):
                self._cache = None

    def call_state(self) -> TokenState:
        """The shared state for a call: the memory copy, read again from the store when there
        is none or it is `recheck_s` old (or the clock went back)."""
        self._ensure_reset()
        cached = self._cache
        if cached is not None and cached[1] <= self.clock() < cached[1] + self.recheck:
            return cached[0]
        return self._read()

    def access_token(self, state: TokenState | None = None) -> str:
        """A valid token. `state`: the shared state the caller has just taken (`call_state`);
        by default the memory copy. The store is read only when that copy holds no token valid
        beyond the margin."""
        self._ensure_reset()
        state = state or self.call_state()
        now = self.clock()
        if state.reauth_required:
            raise ReauthorizationRequired(state.reauth_reason)
        token = self._valid(state, now)
        if token:
            return token
        with self._lock:  # one refresher per process; the lease makes it one across processes
            deadline = now + self.lease * 2
            while True:
                state = self._read()  # another thread or process may have refreshed meanwhile
                now = self.clock()
                if state.reauth_required:
                    raise ReauthorizationRequired(state.reauth_reason)
                token = self._valid(state, now)
                if token:
                    return token
                if self.store.try_lease(self.owner, now, now + self.lease):
                    return self._refresh()
                if now > deadline:
                    raise TokenEndpointBusy("another process holds the refresh lease too long")
                self.sleep(self.poll_s)

    def _refresh(self) -> str:
        # The lease is ours, but another process may have refreshed just before we took it.
        token = self._valid(self._read(), self.clock())
        if token:
            self.store.release(self.owner)
            return token
        try:
            fresh = self.refresher()
        except ReauthorizationRequired as exc:
            log.error("Zoho refused the refresh token (%s): re-authorisation required", exc.reason)
            self.store.mark_reauth(exc.reason, self.clock())
            self._forget()
            raise
        except BaseException:
            self.store.release(self.owner)
            raise
        now = self.clock()
        expires_at = now + timedelta(seconds=fresh.expires_in_s)
        self.store.save_token(self.owner, fresh.access_token, expires_at, now)
        with self._cache_lock:  # what was just saved, without reading it back
            base = self._cache[0] if self._cache is not None else TokenState()
            self._reads_begun += 1
            saved = replace(
                base,
                access_token=fresh.access_token,
                expires_at=expires_at,
                lease_owner=None,
                lease_until=None,
                reauth_required=False,
                reauth_reason="",
            )
            self._cache = (saved, now, self._reads_begun)
        log.info("Zoho access token refreshed (valid %.0f s)", fresh.expires_in_s)
        return fresh.access_token

    def invalidate(self, token: str) -> None:
        """The token was refused (401): forget it here and in the store, so the next caller
        reads the store (another process may have refreshed) and refreshes at most once."""
        self._ensure_reset()
        self._forget(token)
        self.store.invalidate(token)

    def pause_calls(self, until: datetime | None) -> None:
        """Zoho's daily credits are spent: every call of every process waits until `until`."""
        self.store.pause_calls(until, self.clock())
        self._forget()

    def state(self) -> TokenState:
        """The shared state read from the store now (readiness, status, `zoho check`)."""
        self._ensure_reset()
        return self._read()

    def cached_until(self) -> datetime | None:
        """When the cached access token expires, if one is valid now (so `access_token()` will
        not ask Zoho for a new one); None otherwise."""
        state = self.state()
        return state.expires_at if self._valid(state, self.clock()) else None
