"""The refresh token in a cookie, for the browser client: out of reach of the page's scripts.

A client asks for it with `"refresh_cookie": true` on register, login or refresh: the refresh
token is then set in an HttpOnly, SameSite=Strict cookie whose path is the refresh route only,
Secure when Veza is reached over HTTPS, and left out of the JSON body (null). A refresh without a
token in its body reads the cookie. Logout clears it.

A cookie is sent by the browser whatever page asks, so a refresh authenticated by it must prove
that Veza's own client sent it (docs/security.md): SameSite=Strict keeps it off cross-site
requests; the `X-Veza-CSRF` header, which no form and no simple cross-origin request can carry
without a preflight that CORS refuses, must be present; and an `Origin`, when the browser sends
one, must be Veza's own or one of `cors_origins`.
"""

from __future__ import annotations

from quart import request
from werkzeug.http import dump_cookie

from veza.errors import Forbidden
from veza.transport.context import services
from veza.transport.proxy import public_base

NAME = "veza_refresh"
CSRF_HEADER = "X-Veza-CSRF"
REFRESH_PATH = "/api/v1/auth/refresh"


def _cookie_path() -> str:
    """The refresh route as the browser sees it, path prefix included (public_url)."""
    prefix = public_base().split("/", 3)[3:]
    return ("/" + prefix[0].rstrip("/") if prefix and prefix[0] else "") + REFRESH_PATH


def _origin_of(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


def set_cookie_header(token: str) -> dict[str, str]:
    """The Set-Cookie header that hands the browser `token`."""
    base = public_base()
    value = dump_cookie(
        NAME,
        token,
        max_age=services().settings.refresh_token_ttl_seconds,
        path=_cookie_path(),
        secure=base.startswith("https://"),
        httponly=True,
        samesite="Strict",
    )
    return {"Set-Cookie": value}


def clear_cookie_header() -> dict[str, str]:
    """The Set-Cookie header that makes the browser forget the cookie."""
    value = dump_cookie(
        NAME,
        "",
        max_age=0,
        expires=0,
        path=_cookie_path(),
        secure=public_base().startswith("https://"),
        httponly=True,
        samesite="Strict",
    )
    return {"Set-Cookie": value}


def cookie_token() -> str | None:
    """The refresh token of the cookie, once the request has shown it comes from Veza's
    client; None when there is no cookie. Raises Forbidden on a request that may be forged."""
    token = request.cookies.get(NAME)
    if not token:
        return None
    if request.headers.get(CSRF_HEADER) != "1":
        raise Forbidden(f"a refresh by cookie needs the {CSRF_HEADER}: 1 header")
    origin = request.headers.get("Origin")
    if origin is not None and not allowed_origin(origin):
        raise Forbidden("a refresh by cookie is accepted only from Veza's own pages")
    return token


def allowed_origin(origin: str) -> bool:
    own = _origin_of(public_base())
    return origin == own or origin in services().settings.cors_origins
