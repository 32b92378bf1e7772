"""HLS delivery: playlists and segments, authorised by the signed token carried in the query of
every URI (see veza/tracks/playback.py), so players that send no headers of ours (VLC, Safari,
ffplay) can play.

The routes below are the rule. In front of them, `HlsFastPath` answers the requests that
succeed (a GET with a valid token for a file that exists) straight from the ASGI scope, with the
same headers, metrics and access-log line, but without Quart's request and response objects and
hooks, which cost more than the rest of such a request (docs/benchmarks.md, "Serving"). Anything
else (an error, a HEAD, a preflight, a body, an unusual path or query) goes through the routes
unchanged, which answer it as always.

With `offload = "x-accel"`, a segment's bytes are left to the reverse proxy in front: Veza
checks the request as always and answers with `X-Accel-Redirect` to the proxy's internal
location for the media directory (docs/deployment.md). Playlists carry the token, so Veza always
sends them itself."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Blueprint, Response, request
from quart_schema import hide
from quart_trio import QuartTrio

from veza.errors import VezaError
from veza.tracks import HlsFile, Playback
from veza.tracks.playback import MASTERS, MEDIA_PLAYLIST
from veza.transport.context import Edge, services
from veza.transport.cors import EXPOSE_HEADERS, Cors

blueprint = Blueprint("hls", __name__)
MP3_MASTER = MASTERS["mp3"]
# The reverse proxy's `internal` location that serves the media directory (docs/deployment.md).
OFFLOAD_PREFIX = "/internal-media/"

_STILL_WRITTEN = "no-cache"
_FINISHED_PLAYLIST = "private, max-age=3600"
_SEGMENT = "private, max-age=31536000, immutable"


def master_path(grant: Playback, master: str) -> str:
    """The path of one of a track's master playlists, carrying the grant's token."""
    return f"/hls/{grant.track_id}/{grant.generation}/{master}?token={grant.token}"


def _token() -> str:
    return request.args.get("token", "")


def _cache_control(found: HlsFile, *, playlist: bool) -> str:
    if not found.final:
        return _STILL_WRITTEN  # still being written
    return _FINISHED_PLAYLIST if playlist else _SEGMENT


def _response(found: HlsFile, *, playlist: bool) -> Response:
    response = Response(found.body, content_type=found.content_type)
    response.headers["Cache-Control"] = _cache_control(found, playlist=playlist)
    return response


MASTER_ROUTE = "/hls/<track_id>/<int:generation>/<name>"
MEDIA_ROUTE = "/hls/<track_id>/<int:generation>/<rendition>/index.m3u8"
SEGMENT_ROUTE = "/hls/<track_id>/<int:generation>/<rendition>/<segment>"


# Generations are numbers: `int` in the rule, so no other string reaches the service.
@blueprint.get(MASTER_ROUTE)
@hide
async def master_playlist(track_id: str, generation: int, name: str) -> Response:
    found = await services().tracks.hls_playlist(track_id, generation, _token(), name, None)
    return _response(found, playlist=True)


@blueprint.get(MEDIA_ROUTE)
@hide
async def media_playlist(track_id: str, generation: int, rendition: str) -> Response:
    found = await services().tracks.hls_playlist(
        track_id, generation, _token(), "index.m3u8", rendition
    )
    return _response(found, playlist=True)


@blueprint.get(SEGMENT_ROUTE)
@hide
async def segment_file(track_id: str, generation: int, rendition: str, segment: str) -> Response:
    tracks = services().tracks
    if services().settings.offload == "x-accel":
        where = await tracks.hls_segment_location(
            track_id, generation, _token(), rendition, segment
        )
        response = Response(b"", content_type=where.content_type)
        response.headers["X-Accel-Redirect"] = OFFLOAD_PREFIX + where.path
        response.headers["Cache-Control"] = _SEGMENT
        return response
    # Segments are small and immutable: from memory, or one read in a thread, as one body.
    found = await tracks.hls_segment(track_id, generation, _token(), rendition, segment)
    return _response(found, playlist=False)


log = logging.getLogger("veza.http")  # the access log of transport/http.py

_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def install_fast_path(app: QuartTrio, edge: Edge) -> None:
    """Put `HlsFastPath` in front of the app's routes."""
    app.asgi_app = HlsFastPath(app.asgi_app, edge)  # type: ignore[method-assign]


class HlsFastPath:
    """ASGI middleware answering successful HLS GETs without Quart (see the module's comment).

    It answers only what the routes would answer 200, and the same way: the same service calls
    check the token and the names, and the response carries what the edge adds to every
    response (X-Request-ID, Vary: Origin and the CORS headers, Cache-Control), is counted in
    the same metrics under the same route templates, and logged on the same access-log line.
    Whatever it does not answer, it hands to the app with the scope untouched."""

    def __init__(self, app: Any, edge: Edge) -> None:
        self._app = app
        self._edge = edge
        settings = edge.services.settings
        self._offload = settings.offload == "x-accel"
        self._cors = Cors(settings.cors_origins)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/hls/")
            or not await self._answer(scope, send)
        ):
            await self._app(scope, receive, send)

    async def _answer(self, scope: Any, send: ASGISendCallable) -> bool:
        """Answer the request if it is a plain HLS GET that succeeds; False to leave it to the
        routes (nothing has been sent then)."""
        started = time.perf_counter()
        request_id = origin = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
            elif name == b"origin":
                origin = value
            elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return False  # a body: the edge's rules for unread bodies apply
        found = await self._find(scope)
        if found is None:
            return False
        route, (headers, body) = found
        request_id = (
            request_id.decode()
            if request_id is not None and _REQUEST_ID.fullmatch(request_id)
            else uuid.uuid4().hex
        )
        headers += [(b"vary", b"Origin"), (b"x-request-id", request_id.encode())]
        allowed = self._cors.allow_origin(origin.decode("latin-1") if origin else None)
        if allowed is not None:
            headers += [
                (b"access-control-allow-origin", allowed.encode("latin-1")),
                (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
            ]
        metrics = self._edge.metrics
        metrics.in_flight.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            metrics.in_flight.dec()
        seconds = time.perf_counter() - started
        metrics.observe("GET", route, 200, seconds)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %d %.1fms",
                "GET",
                scope["path"],
                200,
                seconds * 1000,
                extra={"request_id": request_id, "status": 200},
            )
        return True

    async def _find(self, scope: Any) -> tuple[str, tuple[list[tuple[bytes, bytes]], bytes]] | None:
        """The route template, headers and body of the answer; None when the routes should
        answer (a refusal, or a request of a shape the routes parse in ways of their own)."""
        if b"%" in scope.get("raw_path", b"%"):
            return None  # escapes in the path: the router decodes them its own way
        token = _query_token(scope["query_string"])
        parts = scope["path"].split("/")  # "", "hls", track, generation, ...
        if token is None or len(parts) not in (5, 6):
            return None
        track_id, generation_text = parts[2], parts[3]
        if not (generation_text.isascii() and generation_text.isdigit()):
            return None
        generation = int(generation_text)
        tracks = self._edge.services.tracks
        try:
            if len(parts) == 5:
                found = await tracks.hls_playlist(track_id, generation, token, parts[4], None)
                return MASTER_ROUTE, _answer_of(found, playlist=True)
            rendition, name = parts[4], parts[5]
            if name == MEDIA_PLAYLIST:
                found = await tracks.hls_playlist(track_id, generation, token, name, rendition)
                return MEDIA_ROUTE, _answer_of(found, playlist=True)
            if self._offload:
                where = await tracks.hls_segment_location(
                    track_id, generation, token, rendition, name
                )
                headers = [
                    (b"content-type", where.content_type.encode()),
                    (b"content-length", b"0"),
                    (b"x-accel-redirect", (OFFLOAD_PREFIX + where.path).encode()),
                    (b"cache-control", _SEGMENT.encode()),
                ]
                return SEGMENT_ROUTE, (headers, b"")
            found = await tracks.hls_segment(track_id, generation, token, rendition, name)
            return SEGMENT_ROUTE, _answer_of(found, playlist=False)
        except VezaError:
            return None  # the route answers the refusal, in the error shape
        except Exception:
            log.warning("HLS fast path failed; the route answers", exc_info=True)
            return None


def _query_token(query: bytes) -> str | None:
    """The token of a query that is exactly `token=...` with a token's characters; None for
    anything else (the route reads such a query its own way)."""
    if not query.startswith(b"token="):
        return None
    token = query[6:].decode("latin-1")
    return token if _TOKEN.fullmatch(token) else None


def _answer_of(found: HlsFile, *, playlist: bool) -> tuple[list[tuple[bytes, bytes]], bytes]:
    cache = _cache_control(found, playlist=playlist)
    headers = [
        (b"content-type", found.content_type.encode()),
        (b"content-length", str(len(found.body)).encode()),
        (b"cache-control", cache.encode()),
    ]
    return headers, found.body
