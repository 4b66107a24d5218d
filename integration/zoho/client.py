"""The Zoho Desk port (`DeskClient`) and its HTTP implementation.

Every call carries `orgId` and `Authorization: Zoho-oauthtoken <token>`, has explicit connect and
read timeouts, and goes through one retry policy (tenacity): 5xx, timeouts, connection errors and
`TOO_MANY_REQUESTS` are retried with exponential backoff and jitter, honouring `Retry-After`;
`THRESHOLD_EXCEEDED` pauses every call until the credits reset; other 4xx are never retried.
A 401 invalidates the token and replays the call once with a fresh one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .auth import TokenManager
from .errors import (
    CallsPaused,
    CreditsExhausted,
    RetryableError,
    ServerError,
    Unauthorized,
    ZohoError,
    error_from_response,
)
from .hosts import Endpoints

if TYPE_CHECKING:
    from ..metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_EVENT_TYPES = ("Ticket_Add", "Ticket_Update", "Ticket_Thread_Add", "Ticket_Delete")


@runtime_checkable
class DeskClient(Protocol):
    """What the service needs from Zoho Desk. Ids are strings (they exceed 2**53)."""

    def get_ticket(self, ticket_id: str) -> dict[str, Any]: ...

    def update_ticket(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]: ...

    def add_comment(
        self, ticket_id: str, content: str, *, public: bool = False
    ) -> dict[str, Any]: ...

    def list_comments(self, ticket_id: str) -> list[dict[str, Any]]: ...

    def add_tags(self, ticket_id: str, tags: list[str]) -> None: ...

    def list_threads(self, ticket_id: str) -> list[dict[str, Any]]: ...

    def search_modified_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every ticket with since <= modifiedTime <= until, oldest change first, each state
        once, never paging `from` past the search's offset cap (`ModifiedTickets`)."""
        ...

    def search_created_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every ticket with since <= createdTime <= until (any status), oldest first, each
        once, never paging `from` past the search's offset cap (`CreatedTickets`)."""
        ...

    def ticket_fields(self) -> list[dict[str, Any]]: ...

    def statuses(self) -> list[dict[str, str]]: ...

    def myinfo(self) -> dict[str, Any]: ...

    def tickets_assigned_to(self, agent_id: str, limit: int = 1) -> list[dict[str, Any]]:
        """Up to `limit` tickets assigned to the agent (`GET /tickets?assignee=<id>`)."""
        ...

    def list_webhooks(self) -> list[dict[str, Any]]: ...

    def list_views(self) -> list[dict[str, Any]]: ...

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def delete_webhook(self, webhook_id: str) -> None: ...


def zoho_time(moment: datetime) -> str:
    """Zoho's timestamp format: 2026-11-27T18:30:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.astimezone(UTC).microsecond // 1000:03d}Z"
    )


SEARCH_LIMIT_MAX = 100  # `/tickets/search`: `limit` 1-100
# `/tickets/search`: the highest `from` Zoho takes (999 in its newer schema; an older note says
# 4999). The walk below never asks for more; the fakes refuse more.
SEARCH_MAX_OFFSET = 999
_MS = timedelta(milliseconds=1)  # the resolution of Zoho's times
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class SearchPage(Protocol):
    """One `/tickets/search` request: tickets in the time ranges (`from,to`; the fake takes
    both bounds as inclusive, the walks do not depend on the lower one; a range of None is not
    asked), sorted by `sort_by` ascending, from `offset`, at most `limit`; [] for Zoho's 204."""

    def __call__(
        self,
        *,
        modified: tuple[datetime, datetime] | None,
        created: tuple[datetime, datetime] | None,
        sort_by: str,
        offset: int,
        limit: int,
    ) -> list[dict[str, Any]]: ...


def _instant(ticket: dict[str, Any], key: str) -> datetime | None:
    """A ticket's time (`2026-11-27T18:30:00.000Z`, or epoch milliseconds); None if not one."""
    value = ticket.get(key)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str) and value.strip().isdigit() and value.isascii():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


class ModifiedTickets(Iterator[dict[str, Any]]):
    """What `search_modified_tickets` returns: every ticket with since <= modifiedTime <= until,
    oldest change first, each (id, modifiedTime) once, read lazily page by page.

    Keyset paging: after a full page, the next request starts at the page's last modifiedTime
    (less a millisecond, so the range's lower bound may be inclusive or not) with `from` 0: a
    ticket changed while we page (it leaves the window) cannot shift an unread one out of sight,
    and `from` stays 0. Only tickets sharing one instant are paged by offset. When more of them
    than `from` can reach (`max_offset`) were changed within [t, t + 2 ms] (a bulk update), that
    slice is read again by creation time (`createdTimeRange`, `sortBy=createdTime`, keyset the
    same way). Tickets sharing both instants beyond the cap cannot be reached by this search at
    all: their slices are listed in `crowded` (and logged), and the walk goes on past them.

    `read_before`: every ticket changed before this instant has been yielded (a cursor may
    advance to it); `requests`: the search requests made so far."""

    def __init__(
        self,
        search: SearchPage,
        since: datetime,
        until: datetime,
        *,
        page_size: int = SEARCH_LIMIT_MAX,
        max_offset: int = SEARCH_MAX_OFFSET,
    ) -> None:
        if not 1 <= page_size <= SEARCH_LIMIT_MAX:
            raise ValueError(f"page_size must be 1-{SEARCH_LIMIT_MAX}, got {page_size}")
        self.search = search
        self.until = until
        self.page_size = page_size
        self.max_offset = max_offset
        self.requests = 0
        self.read_before = since
        self.crowded: list[tuple[tuple[datetime, datetime], tuple[datetime, datetime]]] = []
        self._seen: set[tuple[str, str]] = set()  # (id, modifiedTime) of the tickets yielded
        self._items = self._walk(since)

    def __iter__(self) -> ModifiedTickets:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._items)

    def _walk(self, low: datetime) -> Iterator[dict[str, Any]]:
        offset = 0
        while low <= self.until:
            if offset > self.max_offset:  # [low, low + 1 ms] holds more than `from` reaches
                top = min(low + 2 * _MS, self.until)
                yield from self._by_creation((low, top))
                self.read_before = max(self.read_before, top)
                if top >= self.until:
                    break
                low, offset = top, 0  # `top` again: whether the bound is inclusive or not
                continue
            items = self._page((low, self.until), None, "modifiedTime", offset)
            last = _instant(items[-1], "modifiedTime") if items else None
            yield from self._unseen(items, read_through=last)
            if len(items) < self.page_size:
                break
            low, offset = self._next(low, offset, last, len(items))
        self.read_before = max(self.read_before, self.until)

    def _by_creation(self, modified: tuple[datetime, datetime]) -> Iterator[dict[str, Any]]:
        """The tickets changed within `modified` (a crowded slice), by creation time."""
        low, offset = _EARLIEST, 0
        while low <= modified[1]:
            if offset > self.max_offset:
                created = (low, low + 2 * _MS)
                self.crowded.append((modified, created))
                log.error(
                    "more tickets than `from` %d reaches were changed within %s-%s and created "
                    "within %s-%s: Zoho's search cannot page past it, so some are not read now "
                    "(each is read again when it next changes)",
                    self.max_offset,
                    zoho_time(modified[0]),
                    zoho_time(modified[1]),
                    zoho_time(created[0]),
                    zoho_time(created[1]),
                )
                if created[1] >= modified[1]:
                    return
                low, offset = created[1], 0
                continue
            items = self._page(modified, (low, modified[1]), "createdTime", offset)
            yield from self._unseen(items)
            if len(items) < self.page_size:
                return
            low, offset = self._next(low, offset, _instant(items[-1], "createdTime"), len(items))

    def _next(
        self, low: datetime, offset: int, last: datetime | None, count: int
    ) -> tuple[datetime, int]:
        """After a full page: start again at its last instant (less 1 ms) if that moves the
        lower bound, otherwise the page was all one instant: page on by offset."""
        if last is not None and last - _MS > low:
            return last - _MS, 0
        return low, offset + count

    def _page(
        self,
        modified: tuple[datetime, datetime],
        created: tuple[datetime, datetime] | None,
        sort_by: str,
        offset: int,
    ) -> list[dict[str, Any]]:
        self.requests += 1
        return self.search(
            modified=modified, created=created, sort_by=sort_by, offset=offset, limit=self.page_size
        )

    def _unseen(
        self, items: list[dict[str, Any]], read_through: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """The page's tickets not yielded before. `read_through`: the page's last modifiedTime,
        in a walk by modifiedTime: once the page's last new ticket is handed out, every ticket
        changed before that instant has been (`read_before`)."""
        fresh = []
        for ticket in items:
            mark = (str(ticket.get("id")), str(ticket.get("modifiedTime")))
            if mark not in self._seen:
                self._seen.add(mark)
                fresh.append(ticket)
        for index, ticket in enumerate(fresh):
            if index == len(fresh) - 1 and read_through is not None:
                self.read_before = max(self.read_before, read_through)
            yield ticket
        if read_through is not None:
            self.read_before = max(self.read_before, read_through)


class CreatedTickets(Iterator[dict[str, Any]]):
    """What `search_created_tickets` returns: every ticket with since <= createdTime <= until,
    oldest first, each once, read lazily page by page (`createdTimeRange`, `sortBy=createdTime`).

    Keyset paging as in `ModifiedTickets`: after a full page the next request starts at the
    page's last createdTime less a millisecond, with `from` 0. A creation time never changes, so
    no ticket moves in or out of the walk while it pages (a ticket changed meanwhile is still
    read once). Only tickets sharing one creation instant are paged by offset; more of them than
    `from` reaches (a bulk import) cannot be read by this search: the slice is listed in
    `crowded` (and logged) and the walk goes on past it.

    `requests`: the search requests made so far; `last_created`: the createdTime of the last
    ticket handed out (every ticket created before it has been handed out, crowded slices aside)."""

    def __init__(
        self,
        search: SearchPage,
        since: datetime,
        until: datetime,
        *,
        page_size: int = SEARCH_LIMIT_MAX,
        max_offset: int = SEARCH_MAX_OFFSET,
    ) -> None:
        if not 1 <= page_size <= SEARCH_LIMIT_MAX:
            raise ValueError(f"page_size must be 1-{SEARCH_LIMIT_MAX}, got {page_size}")
        self.search = search
        self.since = since
        self.until = until
        self.page_size = page_size
        self.max_offset = max_offset
        self.requests = 0
        self.last_created: datetime | None = None
        self.crowded: list[tuple[datetime, datetime]] = []
        self._seen: set[str] = set()
        self._items = self._walk()

    def __iter__(self) -> CreatedTickets:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._items)

    def _walk(self) -> Iterator[dict[str, Any]]:
        low, offset = self.since, 0
        while low <= self.until:
            if offset > self.max_offset:  # [low, low + 1 ms] holds more than `from` reaches
                top = min(low + 2 * _MS, self.until)
                self.crowded.append((low, top))
                log.error(
                    "more tickets than `from` %d reaches were created within %s-%s: Zoho's "
                    "search cannot page past it, so some of them are not read",
                    self.max_offset,
                    zoho_time(low),
                    zoho_time(top),
                )
                if top >= self.until:
                    return
                low, offset = top, 0
                continue
            self.requests += 1
            items = self.search(
                modified=None,
                created=(low, self.until),
                sort_by="createdTime",
                offset=offset,
                limit=self.page_size,
            )
            for ticket in items:
                key = str(ticket.get("id"))
                if key in self._seen:
                    continue
                self._seen.add(key)
                self.last_created = _instant(ticket, "createdTime") or self.last_created
                yield ticket
            if len(items) < self.page_size:
                return
            last = _instant(items[-1], "createdTime")
            if last is not None and last - _MS > low:
                low, offset = last - _MS, 0
            else:
                offset += len(items)


def statuses_from_fields(fields: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The Status field's allowed values with their status type (Open, On Hold, Closed)."""
    for item in fields:
        if item.get("apiName") == "status":
            return [
                {"value": str(v.get("value")), "statusType": str(v.get("statusType", ""))}
                for v in item.get("allowedValues") or []
                if isinstance(v, dict)
            ]
    return []


def picklist_values(fields: list[dict[str, Any]], api_name: str) -> list[str] | None:
    """The allowed values of a picklist field, or None when the field or its values are not
    listed. Zoho lists them as objects (`{"value": "High"}`, the status field adds `statusType`);
    plain strings are taken too."""
    for item in fields:
        if item.get("apiName") == api_name:
            allowed = item.get("allowedValues")
            if not isinstance(allowed, list):
                return None
            return [
                str(v.get("value")) if isinstance(v, dict) else str(v)
                for v in allowed
                if not isinstance(v, dict) or v.get("value") is not None
            ]
    return None


@dataclass
class RateLimitGauge:
    """The credits left according to Zoho's last answer (X-Rate-Limit-Remaining-v3)."""

    remaining: int | None = None
    last_weight: int | None = None
    observed_at: datetime | None = None


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _never_sent(exc: requests.RequestException) -> bool:
    """The connection was never made (refused, DNS, connect timeout): Zoho cannot have acted.
    A reset or a read timeout after sending proves nothing either way."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


class _WaitRetryAfterOrBackoff:
    """Wait what Zoho's Retry-After says; otherwise exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, ZohoError) and error.retry_after_s is not None:
            return min(error.retry_after_s, self.maximum * 4)
        return self.backoff(state)


class HttpDeskClient:
    """DeskClient over Zoho Desk's REST API (v1)."""

    def __init__(
        self,
        endpoints: Endpoints,
        org_id: str,
        tokens: TokenManager,
        *,
        http: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        max_concurrency: int = 4,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        credits_pause_s: float = 3600.0,
        source_id: str = "",
        search_max_offset: int = SEARCH_MAX_OFFSET,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.metrics = metrics
        self.org_id = org_id
        self.tokens = tokens
        self.http = http or requests.Session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.clock = clock
        self.credits_pause = timedelta(seconds=credits_pause_s)
        self.source_id = source_id
        self.search_max_offset = search_max_offset
        self.gauge = RateLimitGauge()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._wait = _WaitRetryAfterOrBackoff(backoff_initial_s, backoff_max_s)

    # ---- transport --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """One API call with retries; returns the decoded JSON body (None for 204/empty).

        A call that is not idempotent (a POST that creates something) is repeated only when Zoho
        certainly did not act on it; otherwise the error goes up, and the caller, which can look
        before it repeats, decides."""

        def worth_repeating(error: BaseException) -> bool:
            return isinstance(error, RetryableError) and (idempotent or error.unprocessed)

        retrying = Retrying(
            retry=retry_if_exception(worth_repeating),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "Zoho %s %s failed (%s); retry %d",
                method,
                path,
                s.outcome.exception(),
                s.attempt_number,
            ),
        )
        return retrying(self._call_with_fresh_token, method, path, params, json)

    def _call_with_fresh_token(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any
    ) -> Any:
        state = self.tokens.call_state()  # the memory copy; the database only now and then
        if state.calls_paused_until is not None and state.calls_paused_until > self.clock():
            raise CallsPaused(state.calls_paused_until)
        token = self.tokens.access_token(state)
        try:
            return self._send(method, path, params, body, token)
        except Unauthorized:
            log.info("Zoho refused the access token; refreshing once and replaying")
            self.tokens.invalidate(token)
            return self._send(method, path, params, body, self.tokens.access_token())

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, token: str
    ) -> Any:
        headers = {"Authorization": f"Zoho-oauthtoken {token}", "orgId": self.org_id}
        if self.source_id and method in {"POST", "PATCH", "PUT", "DELETE"}:
            headers["sourceId"] = self.source_id
        with self._slots:
            try:
                response = self.http.request(
                    method,
                    f"{self.endpoints.api}{path}",
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._count(method, path, "timeout" if isinstance(exc, requests.Timeout) else (
                    "connection_error"
                ))  # fmt: skip
                error = ServerError(0, type(exc).__name__.upper(), "no answer from Zoho")
                error.unprocessed = _never_sent(exc)
                raise error from None
        self._count(method, path, response.status_code)
        self._observe(response)
        if response.status_code < 400 and (response.status_code == 204 or not response.content):
            return None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = error_from_response(response.status_code, data, _retry_after(response))
            if isinstance(error, CreditsExhausted):
                self._pause_for_credits(error)
            raise error
        return data

    def _count(self, method: str, path: str, status: int | str) -> None:
        if self.metrics is not None:
            self.metrics.zoho_call(method, path, status)

    def _observe(self, response: requests.Response) -> None:
        remaining = response.headers.get("X-Rate-Limit-Remaining-v3")
        weight = response.headers.get("X-Rate-Limit-Request-Weight-v3")
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            self.gauge.remaining = int(remaining)
            self.gauge.observed_at = self.clock()
            if self.metrics is not None:
                self.metrics.credits(self.org_id, int(remaining))
        if weight is not None and weight.strip().isdigit():
            self.gauge.last_weight = int(weight)

    def _pause_for_credits(self, error: CreditsExhausted) -> None:
        wait = (
            timedelta(seconds=error.retry_after_s)
            if error.retry_after_s is not None
            else self.credits_pause
        )
        until = self.clock() + wait
        log.error("Zoho daily API credits spent: pausing every call until %s", until.isoformat())
        self.tokens.pause_calls(until)
        error.resume_at = until

    # ---- operations -------------------------------------------------------------------------

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.request("GET", f"/tickets/{ticket_id}")  # type: ignore[no-any-return]

    def update_ticket(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/tickets/{ticket_id}", json=fields)  # type: ignore[no-any-return]

    def add_comment(self, ticket_id: str, content: str, *, public: bool = False) -> dict[str, Any]:
        body = {"content": content, "contentType": "plainText", "isPublic": public}
        return self.request("POST", f"/tickets/{ticket_id}/comments", json=body, idempotent=False)  # type: ignore[no-any-return]

    def list_comments(self, ticket_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                f"/tickets/{ticket_id}/comments",
                {"sortBy": "commentedTime", "include": "plainText"},  # content itself is HTML
                page_size=100,
            )
        )

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.request("POST", f"/tickets/{ticket_id}/associateTag", json={"tags": tags})

    def list_threads(self, ticket_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(f"/tickets/{ticket_id}/threads", {"sortBy": "sendDateTime"}, page_size=200)
        )

    def search_modified_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> ModifiedTickets:
        return ModifiedTickets(
            self._search_page, since, until, page_size=page_size, max_offset=self.search_max_offset
        )

    def search_created_tickets(
        self, since: datetime, until: datetime, *, page_size: int = 100
    ) -> CreatedTickets:
        return CreatedTickets(
            self._search_page, since, until, page_size=page_size, max_offset=self.search_max_offset
        )

    def _search_page(
        self,
        *,
        modified: tuple[datetime, datetime] | None,
        created: tuple[datetime, datetime] | None,
        sort_by: str,
        offset: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"sortBy": sort_by, "from": offset, "limit": limit}
        if modified is not None:
            params["modifiedTimeRange"] = f"{zoho_time(modified[0])},{zoho_time(modified[1])}"
        if created is not None:
            params["createdTimeRange"] = f"{zoho_time(created[0])},{zoho_time(created[1])}"
        data = self.request("GET", "/tickets/search", params=params)
        return list((data or {}).get("data") or [])

    def _pages(
        self, path: str, params: dict[str, Any], *, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """Offset pagination: a short page or a 204 is the end."""
        offset = 0
        while True:
            data = self.request("GET", path, params={**params, "from": offset, "limit": page_size})
            items = (data or {}).get("data") or []
            yield from items
            if len(items) < page_size:
                return
            offset += len(items)

    def ticket_fields(self) -> list[dict[str, Any]]:
        data = self.request("GET", "/organizationFields", params={"module": "tickets"})
        return list((data or {}).get("data") or [])

    def statuses(self) -> list[dict[str, str]]:
        return statuses_from_fields(self.ticket_fields())

    def myinfo(self) -> dict[str, Any]:
        return self.request("GET", "/myinfo") or {}  # type: ignore[no-any-return]

    def tickets_assigned_to(self, agent_id: str, limit: int = 1) -> list[dict[str, Any]]:
        params = {"assignee": agent_id, "from": 0, "limit": limit}
        data = self.request("GET", "/tickets", params=params)
        return list((data or {}).get("data") or [])

    def list_webhooks(self) -> list[dict[str, Any]]:
        data = self.request("GET", "/webhooks")
        return list((data or {}).get("data") or [])

    def list_views(self) -> list[dict[str, Any]]:
        """The portal's ticket views (`GET /views?module=tickets`; the endpoint and its shape,
        `{"data": [{"id", "name", ...}]}`, are unconfirmed: `zoho check` words a failure as
        "check by hand", never as a broken set-up)."""
        data = self.request("GET", "/views", params={"module": "tickets"})
        items = (data or {}).get("data") if isinstance(data, dict) else None
        return [v for v in items if isinstance(v, dict)] if isinstance(items, list) else []

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/webhooks", json=body)  # type: ignore[no-any-return]

    def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/webhooks/{webhook_id}", json=body)  # type: ignore[no-any-return]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/webhooks/{webhook_id}")
