"""Authenticating Zoho Desk deliveries.

- `jwt`: the `X-ZDesk-JWT` header, RS256, keys from the Desk host's `/.well-known/jwks.json`
  (cached; fetched again when a token names an unknown `kid`), issuer `orgId:<ZOHO_ORG_ID>`,
  audience `webhookId:<ZOHO_WEBHOOK_ID>`. `exp`/`iat` may be seconds or milliseconds (unconfirmed),
  so both are accepted.
- `token`: `?token=<WEBHOOK_TOKEN>` in the URL, compared in constant time.
- `jwt+token`: both.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping

import jwt
from jwt import PyJWKClient

JWT_HEADER = "X-ZDesk-JWT"


class WebhookAuthError(Exception):
    """The delivery is not authenticated; the message says why (never a secret)."""


def exc_name(exc: BaseException) -> str:
    """An exception's class name: what a refusal may say (its text may quote the token)."""
    return type(exc).__name__


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise WebhookAuthError("JWT time claim is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise WebhookAuthError("JWT time claim is not a number") from None
    if not -1e15 < number < 1e15:  # also refuses NaN and the infinities
        raise WebhookAuthError("JWT time claim is out of range")
    return number / 1000 if number > 1e11 else number


class JwtVerifier:
    def __init__(
        self,
        jwks_url: str,
        org_id: str,
        webhook_id: str,
        *,
        leeway_s: float = 60,
        timeout_s: float = 2,
        refetch_interval_s: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.org_id = org_id
        self.webhook_id = webhook_id
        self.leeway_s = leeway_s
        self.refetch_interval_s = refetch_interval_s
        self.clock = clock
        self.jwks = PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=3600, timeout=timeout_s)
        self._refetched_at = float("-inf")
        self._lock = threading.Lock()

    def _signing_key(self, token: str) -> object:
        """The key named by the token's `kid`, from the cached JWKS. An unknown `kid` fetches the
        JWKS again (Zoho rotated its keys), but at most once per `refetch_interval_s`, so forged
        tokens cannot make us hammer Zoho."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:  # DecodeError; InvalidTokenError for a kid not a string
            raise WebhookAuthError(f"JWT is malformed ({exc_name(exc)})") from None
        kid = header.get("kid")
        if not kid:
            raise WebhookAuthError("JWT has no kid")
        if not isinstance(kid, str):
            raise WebhookAuthError("JWT kid is not a string")
        key = self._match(self.jwks.get_signing_keys(), kid)
        if key is None:
            with self._lock:
                if self.clock() - self._refetched_at < self.refetch_interval_s:
                    raise WebhookAuthError("JWT signing key not found")
                self._refetched_at = self.clock()
            key = self._match(self.jwks.get_signing_keys(refresh=True), kid)
        if key is None:
            raise WebhookAuthError("JWT signing key not found")
        return key

    def _forget_unusable_jwks(self) -> None:
        """PyJWKClient caches the JWKS document as fetched, broken or not: a single bad answer
        from Zoho would refuse every delivery for the cache's hour. Drop it, at most once per
        `refetch_interval_s` (forged tokens must not make us hammer Zoho)."""
        cache = getattr(self.jwks, "jwk_set_cache", None)
        with self._lock:
            if cache is None or self.clock() - self._refetched_at < self.refetch_interval_s:
                return
            self._refetched_at = self.clock()
        cache.put(None)

    @staticmethod
    def _match(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
        return next((k for k in keys if k.key_id == kid), None)

    def verify(self, token: str | None) -> dict[str, object]:
        """The token's claims, or WebhookAuthError naming the problem (never the token). Any
        failure of PyJWT, of the JWKS fetch or of a malformed JWKS document is refused here: an
        authentication problem is a 401, never a 500."""
        if not self.org_id or not self.webhook_id:
            raise WebhookAuthError("JWT verification needs ZOHO_ORG_ID and ZOHO_WEBHOOK_ID set")
        if not token:
            raise WebhookAuthError(f"missing {JWT_HEADER} header")
        try:
            return self._verify(token)
        except WebhookAuthError:
            raise
        except Exception as exc:  # a PyJWT or JWKS failure not foreseen below: still refused
            raise WebhookAuthError(f"JWT could not be verified ({exc_name(exc)})") from None

    def _verify(self, token: str) -> dict[str, object]:
        try:
            key = self._signing_key(token)
        except WebhookAuthError:
            raise
        except jwt.PyJWKClientConnectionError:
            raise WebhookAuthError("could not fetch Zoho's signing keys (JWKS)") from None
        except Exception as exc:  # PyJWKClientError, PyJWKSetError, a JWKS that is not JSON...
            self._forget_unusable_jwks()
            raise WebhookAuthError(
                f"Zoho's signing keys (JWKS) are unusable ({exc_name(exc)})"
            ) from None
        try:
            claims = jwt.decode(
                token,
                key.key,  # type: ignore[attr-defined]
                algorithms=["RS256"],
                issuer=f"orgId:{self.org_id}",
                audience=f"webhookId:{self.webhook_id}",
                options={
                    "verify_exp": False,  # checked below: Zoho may send milliseconds
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["iss", "aud", "exp"],
                },
            )
        except jwt.InvalidIssuerError:
            raise WebhookAuthError("JWT issuer is not this organisation") from None
        except jwt.InvalidAudienceError:
            raise WebhookAuthError("JWT audience is not our webhook") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # InvalidTokenError and kin
            raise WebhookAuthError(f"invalid JWT ({exc_name(exc)})") from None
        now = self.clock()
        if _seconds(claims["exp"]) + self.leeway_s < now:
            raise WebhookAuthError("JWT expired")
        if "iat" in claims and _seconds(claims["iat"]) - self.leeway_s > now:
            raise WebhookAuthError("JWT issued in the future")
        return claims


class TokenVerifier:
    def __init__(self, expected: str) -> None:
        self.expected = expected.encode()

    def verify(self, given: str | None) -> None:
        if not self.expected:
            raise WebhookAuthError("WEBHOOK_TOKEN is not set")
        # surrogatepass: a query string may decode to anything; encoding must never raise
        if not given or not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), self.expected
        ):
            raise WebhookAuthError("wrong or missing token")


class DeliveryAuthenticator:
    """Applies the configured mode (`jwt`, `token`, `jwt+token`) to one request."""

    def __init__(self, mode: str, jwt_verifier: JwtVerifier, token_verifier: TokenVerifier) -> None:
        self.mode = mode
        self.jwt = jwt_verifier
        self.token = token_verifier

    def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        if "token" in self.mode:
            self.token.verify(query.get("token"))
        if "jwt" in self.mode:
            self.jwt.verify(headers.get(JWT_HEADER))
