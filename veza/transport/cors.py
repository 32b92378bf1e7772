"""CORS for the API and HLS: which other origins' pages may call Veza from a browser.

`cors_origins` lists them (empty: same origin only; `*`: any). Under /api/ and /hls/:

- every response carries `Vary: Origin`, so a cache never hands one origin's answer to another;
- a request from an allowed origin gets `Access-Control-Allow-Origin` and
  `Access-Control-Expose-Headers` on every response, errors included, so a browser client can
  read the JSON error (and `Retry-After`, `X-Request-ID`) and a player `Content-Range`;
- a preflight (OPTIONS with `Access-Control-Request-Method`) from an allowed origin to a route
  that exists is answered 204 at once, before the guard, with the methods and headers a client
  may use and how long the browser may remember that;
- any other origin gets no CORS header at all, and the browser keeps the answer from its page.

No credentials mode: tokens travel in the Authorization header or in the HLS URL, never in
cookies. Why not quart-cors (0.8.0): no release since December 2024 and an open report of it
failing on Quart 0.23; it is applied per app or blueprint, not per path; its preflight answer
is Quart's automatic OPTIONS (200, through every before_request); and applied to the whole app
with no allowed origin it would refuse same-origin WebSocket handshakes, which carry an Origin.
"""

from __future__ import annotations

from quart import Response, request
from quart_trio import QuartTrio

from veza.config import Settings

PREFIXES = ("/api/", "/hls/")
ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, If-Match, Range, X-Request-ID"
EXPOSE_HEADERS = "Content-Length, Content-Range, ETag, X-Request-ID, Retry-After"
MAX_AGE_SECONDS = 3600


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origins)

    def allow_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this Origin, or None if not allowed."""
        if not origin:
            return None
        if self._any:
            return "*"
        return origin if origin in self._origins else None

    async def preflight(self) -> Response | None:
        """Answer a preflight from an allowed origin; leave everything else to the routes."""
        if (
            request.method != "OPTIONS"
            or "Access-Control-Request-Method" not in request.headers
            or not _applies()
            or request.url_rule is None  # no such route: its 404 follows, with CORS headers
            or self.allow_origin(request.headers.get("Origin")) is None
        ):
            return None
        response = Response("", status=204)
        for name in ("Content-Type", "Content-Length"):  # a 204 has neither (RFC 9110 8.6)
            del response.headers[name]
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
        return response

    async def headers(self, response: Response) -> Response:
        """The CORS headers of every response under the covered paths."""
        if not _applies():
            return response
        response.vary.add("Origin")
        allowed = self.allow_origin(request.headers.get("Origin"))
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response


def _applies() -> bool:
    return request.path.startswith(PREFIXES)


def install_cors(app: QuartTrio, settings: Settings) -> None:
    """Install before the guard: a preflight carries no token and must not need one."""
    cors = Cors(settings.cors_origins)
    app.before_request(cors.preflight)
    app.after_request(cors.headers)
