"""Request lifecycle for every route: request ids, body limits and deadlines, access log, metrics,
connections that cannot carry another request closed, and the one place where exceptions become
the JSON error shape."""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Generator
from typing import Any

import h11
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio import run as hypercorn_run
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
)
from quart import Request, Response, g, jsonify, request
from quart.asgi import ASGIHTTPConnection
from quart.formparser import FormDataParser
from quart_schema import RequestSchemaValidationError
from quart_trio import QuartTrio
from quart_trio.asgi import TrioASGIHTTPConnection
from quart_trio.wrappers import TrioRequest
from quart_trio.wrappers.request import TrioBody
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from veza import errors
from veza.config import Settings
from veza.tracks import covers
from veza.transport.context import edge
from veza.transport.listeners import install_eager_listeners
from veza.transport.uploads import Spool, SpoolingFormDataParser, remove_spools

log = logging.getLogger("veza.http")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Werkzeug's own HTTP exceptions (routing, body limits, bad JSON) in our vocabulary.
_HTTP_EXCEPTIONS: dict[int, type[errors.VezaError]] = {
    400: errors.BadRequest,
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    422: errors.ValidationFailed,
    429: errors.RateLimited,
}


def request_id() -> str:
    return str(getattr(g, "request_id", "-"))


async def _begin() -> None:
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if _SANE_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
    g.started = time.perf_counter()
    edge().metrics.in_flight.inc()
    g.in_flight = True


async def _end(error: BaseException | None) -> None:
    """Teardown, which runs for every request, also one cancelled because its client went away
    (the after-request hook does not)."""
    # First, and without a checkpoint: a cancelled request's teardown stops at its first one.
    if g.pop("in_flight", False):
        edge().metrics.in_flight.dec()
    spooled = list(getattr(request, "spooled", ()))
    if spooled:
        # Shielded: a request cut off by its client ends cancelled, and its parts must go too.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(remove_spools, spooled)


def _body_left_unread() -> bool:
    """Whether the client may still be sending a body the app will never read: the answer came
    first (a 401 on an upload, a 413, a 408), or the route had no use for the body."""
    headers = request.headers
    if "Transfer-Encoding" not in headers and not request.content_length:
        return False  # no body at all
    body = request.body
    return not (isinstance(body, CountedBody) and body.received_whole)


def _close_after(response: Response) -> None:
    """Have the server close the connection once `response` is sent, and drop the rest of the
    body meanwhile. With Hypercorn 0.18 a connection whose request body was not read to its end
    cannot carry another request: the next one is never answered and the socket is held open."""
    response.headers["Connection"] = "close"
    body = request.body
    if isinstance(body, CountedBody):
        body.abandon()


async def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    if response.status_code == 408 or _body_left_unread():
        _close_after(response)
    if not request.http_version.startswith(("0.", "1.")):
        # HTTP/2 forbids the header (h2 refuses to send it); a stream ends, not the connection.
        response.headers.pop("Connection", None)
    started = getattr(g, "started", None)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else None
    edge().metrics.observe(request.method, route, response.status_code, seconds)
    log.info(
        "%s %s %d %.1fms",
        request.method,
        request.path,
        response.status_code,
        seconds * 1000,
        extra={"request_id": request_id(), "status": response.status_code},
    )
    return response


def error_response(error: errors.VezaError) -> Response:
    response = jsonify(error.body(request_id()))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


async def _veza_error(error: errors.VezaError) -> Response:
    return error_response(error)


async def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    kind = _HTTP_EXCEPTIONS.get(status)
    if kind is None or kind is errors.RateLimited:
        generic = errors.VezaError(error.description or error.name)
        generic.status, generic.code = status, error.name.lower().replace(" ", "_")
        return error_response(generic)
    return error_response(kind())


async def _schema_error(error: RequestSchemaValidationError) -> Response:
    return error_response(errors.ValidationFailed(_summarise(error.validation_error)))


def _summarise(validation_error: Exception) -> str:
    issues = getattr(validation_error, "errors", None)
    if not callable(issues):
        return "the request body does not match the schema"
    parts = []
    for issue in issues()[:5]:
        where = ".".join(str(p) for p in issue.get("loc", ())) or "body"
        parts.append(f"{where}: {issue.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _unexpected(error: Exception) -> Response:
    log.error(
        "unhandled %s", type(error).__name__, exc_info=error, extra={"request_id": request_id()}
    )
    return error_response(errors.VezaError())


# How much of a body is read ahead of a consumer that streams it (the multipart parser).
READ_AHEAD = 256 * 1024


class CountedBody(TrioBody):
    """Quart checks its limit against what is buffered, which a streaming consumer (the
    multipart parser) keeps small: a chunked upload would never hit it. Count every byte.

    Quart also buffers whatever arrives, however far its consumer is behind (a disk slower than
    the network). `room` lets the reader of the connection wait until a streaming consumer has
    taken what is buffered, so the client is held back instead; a consumer that wants the whole
    body at once (`await body`: JSON, at most the small JSON limit) lifts that wait."""

    def __init__(self, expected_content_length: int | None, max_content_length: int | None):
        super().__init__(expected_content_length, max_content_length)
        self._received = 0
        self._taken = trio.Event()
        self._whole_wanted = False
        self._abandoned = False

    @property
    def received_whole(self) -> bool:
        """The client sent the body to its end (within the limit)."""
        return self._complete.is_set() and self._must_raise is None

    def abandon(self) -> None:
        """Nobody will read the rest: what still arrives is dropped, not buffered, and the
        reader of the connection is no longer held back, so the server can finish the
        exchange (and close the connection) instead of waiting for room that never comes."""
        self._abandoned = True
        self._data.clear()
        self._taken.set()

    async def room(self) -> None:
        while (
            len(self._data) >= READ_AHEAD
            and not self._whole_wanted
            and not self._abandoned
            and self._must_raise is None
            and not self._complete.is_set()
        ):
            self._taken = trio.Event()
            await self._taken.wait()

    def __await__(self) -> Generator[Any, None, Any]:
        self._whole_wanted = True
        self._taken.set()
        return super().__await__()

    def clear(self) -> None:
        super().clear()
        self._taken.set()

    def append(self, data: bytes) -> None:
        if self._abandoned:
            return
        self._received += len(data)
        limit = self._max_content_length
        if limit is not None and self._received > limit and self._must_raise is None:
            self._must_raise = RequestEntityTooLarge()
            self.set_complete()
        super().append(data)

    @property
    def complete(self) -> bool:
        """The whole body has arrived (or was cut off at the limit)."""
        return self._complete.is_set()

    async def __anext__(self) -> bytes:
        # Quart looks at the error only before waiting for data; the cut-off must not end the
        # stream as if it were whole.
        try:
            data = await super().__anext__()
        except StopAsyncIteration:
            if self._must_raise is not None:
                raise self._must_raise from None
            raise
        self._taken.set()
        return data


class PacedConnection(TrioASGIHTTPConnection):
    """Quart-Trio's HTTP connection, reading the next piece of a body from the server only
    when the body has room for it (`CountedBody.room`), and letting the server finish the
    exchange once the whole response is handed over.

    Quart-Trio cancels the request as soon as the server reports the exchange over
    (`http.disconnect`). The server does so from inside the call that hands it the last piece
    of the response, and then still has to close the connection (Connection: close) or arm its
    keep-alive timer: cancelled there, it did neither, and the connection was left open with
    nobody reading it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._response_sent = False

    async def handle_messages(  # type: ignore[override]
        self, nursery: trio.Nursery, request: Request, receive: ASGIReceiveCallable
    ) -> None:
        body = request.body

        async def paced() -> ASGIReceiveEvent:
            if isinstance(body, CountedBody):
                await body.room()
            return await receive()

        await ASGIHTTPConnection.handle_messages(self, request, paced)
        if not self._response_sent:  # the client went away: stop answering
            nursery.cancel_scope.cancel()

    async def _send_response(self, send: ASGISendCallable, response: Any) -> None:
        async def noting_the_end(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self._response_sent = True
            await send(message)

        await super()._send_response(noting_the_end, response)


def _request_class(settings: Settings) -> type[TrioRequest]:
    class VezaRequest(TrioRequest):
        body_class = CountedBody

        """Bodies other than multipart uploads get the small JSON limit from the start, so an
        oversized one is refused (413) before it is buffered; uploads get theirs, and their
        file parts are spooled to the upload directory, never held in memory."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.spooled: list[Spool] = []
            is_upload = self.mimetype == "multipart/form-data"
            limit = settings.max_upload_bytes if is_upload else settings.max_json_bytes
            if self.mimetype.startswith("image/"):  # a cover, sent as the body itself
                limit = covers.MAX_BYTES
            self.max_content_length = limit
            self.body = self.body_class(self.content_length, limit)
            self.body_timeout = _body_deadline(settings, self.content_length, limit)

        def make_form_data_parser(self) -> FormDataParser:
            return SpoolingFormDataParser(
                open_spool=self.open_spool,
                max_content_length=self.max_content_length,
                max_form_memory_size=self.max_form_memory_size,
                max_form_parts=self.max_form_parts,
                cls=self.parameter_storage_class,
            )

        async def open_spool(self) -> Spool:
            spool = await Spool.create(settings.upload_dir)
            self.spooled.append(spool)  # no checkpoint in between: a cancellation finds it here
            return spool

        def on_json_loading_failed(self, error: Exception) -> Any:
            raise errors.MalformedJSON()

        async def get_json(
            self, force: bool = False, silent: bool = False, cache: bool = True
        ) -> Any:
            """Quart decodes the body as UTF-8 outside its own error handling, and the JSON
            parser gives up on deep nesting with RecursionError: both are the client's
            malformed body (400), never a 500."""
            try:
                return await super().get_json(force=force, silent=silent, cache=cache)
            except (ValueError, RecursionError):
                if silent:
                    return None
                raise errors.MalformedJSON() from None

    return VezaRequest


def _body_deadline(settings: Settings, declared: int | None, limit: int) -> int:
    """How long reading a request body may take in all, in seconds.

    Quart's BODY_TIMEOUT (60 s by default) bounds the whole read, form parsing included, so a
    2 GiB upload over a slow link was cut off with a 408 after a minute. A stalled client is
    already caught by the idle bound, Hypercorn's read timeout (http_read_timeout_seconds); this
    one only stops a client trickling a body slower than http_min_body_rate_bytes. The size is
    the one declared (Content-Length), or the limit for a chunked body."""
    size = limit if declared is None else min(declared, limit)
    return settings.http_read_timeout_seconds + math.ceil(size / settings.http_min_body_rate_bytes)


def install_http_edge(app: QuartTrio, settings: Settings) -> None:
    app.request_class = _request_class(settings)
    app.asgi_http_class = PacedConnection
    # Quart-Trio sends a response under `move_on_after(RESPONSE_TIMEOUT)` (60 s by default): an
    # original still going to a slow listener after a minute was cut off in the middle. No
    # limit on the whole: a client that stops reading is disconnected by the write timeout of
    # the connection (EdgeTCPServer), one that reads slowly is served to the end.
    app.config["RESPONSE_TIMEOUT"] = None
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_error_handler(errors.VezaError, _veza_error)
    app.register_error_handler(RequestSchemaValidationError, _schema_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)


class EdgeTCPServer(TCPServer):
    """Hypercorn's trio connection, with its idle timeouts the way a media server needs them.

    Hypercorn 0.18 arms `read_timeout` on every read of the socket, also while a response is
    being sent, when the client has nothing to say: any download lasting longer than
    http_read_timeout_seconds (an original going to a slow listener) was cut off. Here the read
    timeout counts only while the server waits for the client (a request line, headers, a body).
    And each write must be taken by the client within the write timeout, so one that stops
    reading is disconnected rather than held (Hypercorn shields its writes from cancellation:
    nothing above could free them)."""

    async def run(self) -> None:
        try:
            await super().run()
        except Exception:
            # One connection's failure ends that connection, never the server: Hypercorn lets
            # an error in its protocol code (HTTP/2 data for a stream it has forgotten raises
            # KeyError in 0.18) reach the listener's nursery, which takes the whole server down.
            log.exception("an HTTP connection failed inside the server")

    def _waiting_for_client(self) -> bool:
        protocol = getattr(self.protocol, "protocol", None)
        if isinstance(protocol, H11Protocol) and protocol.stream is not None:
            # A request whose end has been read: the client waits for the answer. (A WebSocket
            # has no such state and keeps the read timeout.)
            return protocol.connection.their_state is not h11.DONE
        return True

    async def _read_data(self) -> None:
        # As Hypercorn 0.18's TCPServer._read_data, except that the client's silence ends the
        # connection only when the server was waiting for it for the whole read timeout. Once a
        # response is over, the keep-alive timer closes the idle connection; this closes it
        # within two read timeouts at most should that timer not run.
        timeout = self.config.read_timeout or math.inf
        while True:
            waiting = self._waiting_for_client()
            try:
                with trio.fail_after(timeout):
                    data = await self.stream.receive_some(MAX_RECV)
            except trio.TooSlowError:
                if waiting and self._waiting_for_client():
                    break
                continue
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                break
            await self.protocol.handle(RawData(bytes(data)))
            if data == b"":
                break
        await self.protocol.handle(Closed())

    async def protocol_send(self, event: Event) -> None:
        if not isinstance(event, RawData):
            await super().protocol_send(event)
            return
        timeout = getattr(self.config, WRITE_TIMEOUT, None) or math.inf
        async with self.send_lock:
            try:
                # Shielded as Hypercorn does (a write cut in the middle would corrupt the
                # stream), but with a deadline of its own.
                with trio.CancelScope(shield=True, deadline=trio.current_time() + timeout) as scope:
                    await self.stream.send_all(event.data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
                # Busy: the connection is being closed (its send_eof is not under the lock).
                await self.protocol.handle(Closed())
                return
        if scope.cancelled_caught:
            log.info("closing a connection whose client took nothing for %.0f s", timeout)
            await self.stream.aclose()  # the stream is unusable after a cut write
            await self.protocol.handle(Closed())


WRITE_TIMEOUT = "veza_write_timeout"
_CONNECTION_CLASS = "TCPServer"  # the global name Hypercorn's trio worker builds connections from


def edge_connections(config: HypercornConfig, settings: Settings) -> None:
    """Serve every connection of `config` with EdgeTCPServer, accepted in bursts
    (veza/transport/listeners.py). Hypercorn's trio worker builds one `TCPServer` per connection
    from its module's global name; there is no other way in."""
    install_eager_listeners(hypercorn_run)
    setattr(config, WRITE_TIMEOUT, settings.http_write_timeout_seconds)
    current = getattr(hypercorn_run, _CONNECTION_CLASS, None)
    if current is not EdgeTCPServer:
        if current is not TCPServer:
            raise RuntimeError("Hypercorn's trio worker no longer builds its connections here")
        setattr(hypercorn_run, _CONNECTION_CLASS, EdgeTCPServer)
