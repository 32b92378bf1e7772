"""Access tokens (JWT HS256, algorithm pinned) and opaque secret tokens (refresh, reset).

An opaque token is `<id>.<secret>`: the id finds the row, the secret's SHA-256 digest is stored
and compared in constant time, so a database leak yields no usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "veza"
AUDIENCE = "veza-api"
ACCESS = "access"
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "sid", "typ"]
_HEX_ID = re.compile(r"[0-9a-f]{1,64}")


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    issued_at: int
    expires_at: int


class TokenError(Exception):
    """The token is malformed, forged, expired or meant for something else."""


class AccessTokens:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._key = secret.encode()
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: str, session_id: str, now: float) -> str:
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "sub": user_id,
            "sid": session_id,
            "typ": ACCESS,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def decode(self, token: str, now: float) -> AccessClaims:
        """Raises TokenError unless the token is ours, HS256, an access token, issued no later
        than `now` and still unexpired at `now` (the caller's clock, not PyJWT's)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # pinned: `none` and every other algorithm refused
                audience=AUDIENCE,
                issuer=ISSUER,
                # Signature, audience and issuer checked here; the times below, against `now`.
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            raise TokenError(str(error)) from None
        issued_at, expires_at = claims["iat"], claims["exp"]
        if not (_is_int(issued_at) and _is_int(expires_at)):
            raise TokenError("iat and exp must be integers")
        if expires_at <= now:  # as PyJWT with no leeway: expired from the second `exp` on
            raise TokenError("the token has expired")
        if issued_at > now:
            raise TokenError("the token is not yet valid (iat)")
        if claims["typ"] != ACCESS or not all(
            isinstance(claims[name], str) for name in ("sub", "sid")
        ):
            raise TokenError("not an access token")
        return AccessClaims(claims["sub"], claims["sid"], issued_at, expires_at)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class OpaqueToken:
    id: str
    token: str  # handed to the client once, never stored
    digest: str  # stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_opaque_token() -> OpaqueToken:
    """A 256-bit random secret with a row id in front."""
    token_id = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    return OpaqueToken(token_id, f"{token_id}.{secret}", digest(secret))


def split_opaque_token(token: str) -> tuple[str, str] | None:
    """(id, digest of the secret) or None when the token cannot be one of ours."""
    token_id, dot, secret = token.partition(".")
    if not dot or not secret or len(token) > 200 or not _HEX_ID.fullmatch(token_id):
        return None
    return token_id, digest(secret)


def same_digest(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored.encode(), presented.encode())
