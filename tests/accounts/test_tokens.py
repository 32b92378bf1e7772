"""Access-token encoding and decoding, and opaque token digests."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from veza.accounts.tokens import (
    AccessTokens,
    TokenError,
    new_opaque_token,
    same_digest,
    split_opaque_token,
)

SECRET = "s" * 48


def test_round_trip_carries_user_session_and_expiry() -> None:
    tokens = AccessTokens(SECRET, 900)
    now = time.time()
    claims = tokens.decode(tokens.issue("user-1", "session-1", now), now)
    assert (claims.user_id, claims.session_id) == ("user-1", "session-1")
    assert claims.issued_at == int(now)
    assert claims.expires_at - claims.issued_at == 900


def test_expiry_and_issue_time_are_checked_against_the_given_clock() -> None:
    tokens = AccessTokens(SECRET, 900)
    issued = 2_000_000_000.0  # years away from the real time: PyJWT's clock plays no part
    token = tokens.issue("u", "s", issued)
    assert tokens.decode(token, issued).expires_at == 2_000_000_900
    assert tokens.decode(token, issued + 899.999).user_id == "u"
    for moment, reason in [(issued + 900, "expired"), (issued - 0.001, "not yet valid")]:
        with pytest.raises(TokenError, match=reason):
            tokens.decode(token, moment)


def test_times_that_are_not_integers_are_refused() -> None:
    tokens = AccessTokens(SECRET, 900)
    claims = jwt.decode(tokens.issue("u", "s", 1000.0), options={"verify_signature": False})
    for changes in ({"exp": "2000"}, {"exp": True}, {"iat": 999.5}, {"iat": "999"}):
        with pytest.raises(TokenError, match="integers"):
            tokens.decode(jwt.encode({**claims, **changes}, SECRET, "HS256"), 1000.0)


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_forgeries_and_foreign_tokens_are_refused() -> None:
    tokens = AccessTokens(SECRET, 900)
    good = tokens.issue("u", "s", time.time())
    claims = jwt.decode(good, options={"verify_signature": False})
    now = int(time.time())
    bad = [
        _unsigned(claims),
        jwt.encode(claims, "k" * 48, "HS256"),
        jwt.encode({**claims, "aud": "other"}, SECRET, "HS256"),
        jwt.encode({**claims, "iss": "other"}, SECRET, "HS256"),
        jwt.encode({**claims, "exp": now - 1, "iat": now - 100}, SECRET, "HS256"),
        jwt.encode({**claims, "typ": "refresh"}, SECRET, "HS256"),
        jwt.encode({**claims, "sub": 5}, SECRET, "HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET, "HS256"),
        jwt.encode(claims, SECRET, "HS384"),
        "",
        "a.b.c",
    ]
    for token in bad:
        with pytest.raises(TokenError):
            tokens.decode(token, time.time())


def test_opaque_tokens_are_256_bit_secrets_stored_as_digests() -> None:
    made = new_opaque_token()
    token_id, digest = split_opaque_token(made.token) or ("", "")
    assert token_id == made.id
    assert same_digest(made.digest, digest)
    secret = made.token.split(".", 1)[1]
    assert len(base64.urlsafe_b64decode(secret + "==")) == 32
    assert secret not in made.digest
    assert new_opaque_token().token != made.token
    other = split_opaque_token(made.id + ".other")
    assert other is not None and not same_digest(made.digest, other[1])
    for malformed in ("", "nodot", ".secret", "id.", "x" * 300):
        assert split_opaque_token(malformed) is None
