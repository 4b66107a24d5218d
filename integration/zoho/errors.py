"""Zoho Desk errors as types. Zoho's error body is `{errorCode, message, errors[]}`; the field
errors are kept so a 422 can say which field was refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field_name: str
    error_type: str
    message: str


class ZohoError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field_errors: list[FieldError] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message
        self.field_errors = field_errors or []
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        text = f"Zoho Desk {self.status} {self.code}: {self.message}"
        if self.field_errors:
            details = "; ".join(f"{e.field_name}: {e.message}" for e in self.field_errors)
            text += f" ({details})"
        return text


class RetryableError(ZohoError):
    """5xx, timeouts, connection errors, concurrency limits: worth trying again shortly.

    `unprocessed` says Zoho certainly did not act on the request (refused before processing, or
    never reached), so even a non-idempotent call (posting a comment) may be repeated blindly.
    """

    unprocessed = False


class RateLimited(RetryableError):
    """429 TOO_MANY_REQUESTS: too many parallel calls on the portal."""

    unprocessed = True


class ServerError(RetryableError):
    """5xx from Zoho, or no answer (timeout, connection refused)."""


class CreditsExhausted(ZohoError):
    """THRESHOLD_EXCEEDED: the portal's daily API credits are spent; calls pause until reset.

    Recognised by Zoho's errorCode whatever the HTTP status (usually 429, but not only)."""

    resume_at: datetime | None = None


class CallsPaused(Exception):
    """Calls are paused (credits spent) until `resume_at`; nothing was sent."""

    def __init__(self, resume_at: datetime) -> None:
        super().__init__(f"Zoho calls paused until {resume_at.isoformat()} (daily credits spent)")
        self.resume_at = resume_at


class Unauthorized(ZohoError):
    """401: the access token was refused."""


class NotFound(ZohoError):
    pass


class InvalidData(ZohoError):
    """422 INVALID_DATA: a field was refused; `field_errors` says which."""


class ReauthorizationRequired(Exception):
    """The refresh token or client credentials were refused (invalid_grant, invalid_client).

    Calls stop until someone authorises the integration again: retrying cannot help and would only
    spend Zoho's token quota.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"Zoho re-authorisation required: {reason}")
        self.reason = reason


class TokenEndpointBusy(Exception):
    """Zoho refused to mint a token for now (too many token requests); try again later."""


def error_from_response(status: int, body: object, retry_after_s: float | None = None) -> ZohoError:
    data = body if isinstance(body, dict) else {}
    code = str(data.get("errorCode") or data.get("code") or f"HTTP_{status}")
    message = str(data.get("message") or data.get("errorMessage") or "no message")
    field_errors = [
        FieldError(
            str(e.get("fieldName", "")), str(e.get("errorType", "")), str(e.get("errorMessage", ""))
        )
        for e in data.get("errors") or []
        if isinstance(e, dict)
    ]
    kwargs: dict[str, Any] = {"field_errors": field_errors, "retry_after_s": retry_after_s}
    if code == "THRESHOLD_EXCEEDED":
        return CreditsExhausted(status, code, message, **kwargs)
    if status == 429:
        return RateLimited(status, code, message, **kwargs)
    if status >= 500:
        return ServerError(status, code, message, **kwargs)
    if status == 401:
        return Unauthorized(status, code, message, **kwargs)
    if status == 404:
        return NotFound(status, code, message, **kwargs)
    if status == 422:
        return InvalidData(status, code, message, **kwargs)
    return ZohoError(status, code, message, **kwargs)
