"""The hub of this process' WebSockets: the live sockets, the owners they share (typing,
presence, delivered receipts), frames encoded once per broadcast, and the `/ws` endpoint.

`Hub.run` is started by `veza serve` beside Hypercorn and owns the typing and presence tasks
and the receipt flusher; when shutdown begins it closes every socket with 1001, before
Hypercorn's grace period would cut them off (1006). Each socket lives in its own nursery
(veza/transport/ws/connection.py) inside Hypercorn's task for its connection.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio

from veza.chat import MessageEvent, MessageRow, ReceiptMoved, ReceiptsMoved
from veza.chat.presence import PresenceChanged, PresenceOwner, PresencesChanged
from veza.chat.typing import TypingChanged, TypingOwners
from veza.errors import VezaError
from veza.events import Event, topic
from veza.transport.api.conversations import MessageOut
from veza.transport.context import Edge
from veza.transport.ws import protocol, route
from veza.transport.ws.connection import Connection, authenticate
from veza.transport.ws.outbound import Delivered

log = logging.getLogger("veza.ws")

PATH = "/ws"
POLICY_VIOLATION = 1008  # before the accept, any code makes Hypercorn answer 403
GOING_AWAY = 1001
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_STATUSES = ("online", "away", "offline")
_FRAME_CACHE = 1024  # events whose frame is kept, most recent first
FLUSH_LIMIT_S = 10.0  # one write of the gathered delivered receipts, at most


class Origins:
    """Which browser pages may open a socket: the same origin always, `cors_origins` too, and
    a client that sends no Origin (a native app: Origin is a browser's statement)."""

    def __init__(self, allowed: tuple[str, ...], public_url: str) -> None:
        self._any = "*" in allowed
        self._allowed = {_normal(o) for o in allowed if o != "*"}
        if public_url:
            scheme, _, rest = public_url.partition("://")
            self._allowed.add(_normal(f"{scheme}://{rest.partition('/')[0]}"))

    def allows(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        origin = _normal(origin)
        if self._any or origin in self._allowed:
            return True
        host = _header(scope, b"host")
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        return host is not None and origin == _normal(f"{scheme}://{host}")


def _normal(origin: str) -> str:
    origin = origin.strip().lower()
    scheme = origin.partition("://")[0]
    return origin.removesuffix(_DEFAULT_PORTS.get(scheme, "\0"))


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())  # type: ignore[assignment]
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


@dataclass(frozen=True)
class Encoded:
    """The frame of one event as every socket sends it; for a message, which one (shared by
    every socket's delivered note)."""

    text: str
    message: Delivered | None = None


@dataclass
class _Frame:
    """The encoded frame of one event, shared by every socket it goes to."""

    event: Event
    encoded: Encoded | None = None
    done: trio.Event = field(default_factory=trio.Event)


class DeliveredReceipts:
    """Delivered receipts gathered per conversation and written together every `interval`: one
    transaction and one event per conversation per interval (chunked to fit a NOTIFY), told to
    the senders whose messages reached sockets meanwhile, however many messages and members.
    No task wakes while nothing waits."""

    def __init__(
        self,
        mark: Callable[[str, Mapping[str, int], Iterable[str]], Awaitable[object]],
        interval: float,
    ):
        self._mark = mark
        self._interval = interval
        # conversation -> (member -> highest seq delivered, senders of those messages)
        self._pending: dict[str, tuple[dict[str, int], set[str]]] = {}
        self._waiting = trio.Event()

    def note(self, user_id: str, delivered: Delivered) -> None:
        pending = self._pending.get(delivered.conversation_id)  # once per frame: no allocation
        if pending is None:
            pending = self._pending[delivered.conversation_id] = ({}, set())
        marks, senders = pending
        if marks.get(user_id, -1) < delivered.seq:
            marks[user_id] = delivered.seq
        senders.add(delivered.sender_id)
        self._waiting.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._waiting.wait()
            await trio.sleep(self._interval)
            self._waiting = trio.Event()
            await self.flush()

    async def flush(self) -> None:
        """Write the marks gathered so far. Shielded, within `FLUSH_LIMIT_S`: the cancellation
        that ends the process neither drops the marks taken nor cuts their write short."""
        pending, self._pending = self._pending, {}
        with trio.CancelScope(shield=True), trio.move_on_after(FLUSH_LIMIT_S) as limit:
            for conversation_id, (marks, senders) in pending.items():
                try:
                    await self._mark(conversation_id, marks, senders)
                except VezaError as error:  # the conversation is gone meanwhile
                    log.debug("delivered receipts dropped: %s", error.message)
                except Exception:
                    # The store failed: these marks wait for the next message; the hub lives on.
                    log.exception(
                        "delivered receipts of conversation %s not written", conversation_id
                    )
        if limit.cancelled_caught:
            log.warning("delivered receipts not all written within %g s", FLUSH_LIMIT_S)


class Hub:
    def __init__(self, edge: Edge) -> None:
        services = edge.services
        settings = services.settings
        self.edge = edge
        self.services = services
        self.settings = settings
        # Tells this process' typing and presence changes from another's (events carry it).
        self.origin = secrets.token_hex(8)
        self.origins = Origins(settings.cors_origins, settings.public_url)
        self.typing = TypingOwners(
            services.events,
            origin=self.origin,
            expiry=settings.typing_expiry_seconds,
        )
        self.presence = PresenceOwner(
            services.events,
            self._presence_audience,
            origin=self.origin,
            away_after=settings.presence_away_after_seconds,
            offline_grace=settings.presence_offline_grace_seconds,
            gather=settings.presence_gather_seconds,
            beat_every=settings.presence_beat_seconds,
        )
        self.delivered = DeliveredReceipts(
            services.chat.mark_delivered_many, settings.ws_delivered_flush_seconds
        )
        self.sockets: set[Connection] = set()  # the live ones
        self._sockets_changed = trio.Event()
        self.closing = False
        self._frames: OrderedDict[int, _Frame] = OrderedDict()

    async def _presence_audience(self, user_id: str) -> list[str]:
        ids = await self.services.chat.conversation_ids_of(user_id)
        return [topic("conversation", i) for i in ids]

    async def run(
        self, shutdown: trio.Event, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The hub's owners, until cancelled; once `shutdown` is set, every socket is closed
        with 1001 and new ones are refused."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.typing.run)
            await nursery.start(self.presence.run)
            await nursery.start(self.delivered.run)
            task_status.started()
            await shutdown.wait()
            self.closing = True
            # The other processes stop counting this one's sockets at once (their users are
            # shown as the rest say); the disconnects that follow are not told.
            with trio.move_on_after(self.settings.shutdown_grace_seconds):
                await self.presence.leave()
            for socket in list(self.sockets):
                socket.close(GOING_AWAY, "the server is shutting down")
            log.info("shutdown: %d WebSocket(s) closed", len(self.sockets))
            # The delivered receipts still gathering are written before the process goes: once
            # the sockets have ended (a frame being written as the close came is noted), and
            # shielded, since Hypercorn ends as soon as they have and everything is cancelled.
            with trio.CancelScope(shield=True):
                with trio.move_on_after(self.settings.shutdown_grace_seconds):
                    await self.wait_idle()
                await self.delivered.flush()

    def built(self, event: Event) -> _Frame | None:
        """The frame of an event, built now if that needs no wait (anything but a message the
        event does not carry); None while it is being read from the store, or must be. What
        a socket's direct path takes (veza/events/bus.py), with no checkpoint of its own."""
        entry = self._frames.get(id(event))
        if entry is not None and entry.event is event:  # the entry holds it: id not reused
            return entry if entry.done.is_set() else None
        message = None
        if isinstance(event, MessageEvent):
            message = self.services.chat.carried(event)
            if message is None:
                return None
        entry = self._remember(event)
        try:
            entry.encoded = self._build(event, message)
        finally:
            entry.done.set()
        return entry

    async def encode(self, event: Event) -> Encoded | None:
        """The frame a socket sends for a bus event (None: nothing to send), built once for
        every socket it goes to: the first asks, the others wait for its answer (or find it
        built, without a checkpoint)."""
        entry = self.built(event)
        if entry is not None:
            return entry.encoded
        entry = self._frames.get(id(event))
        if entry is not None and entry.event is event:
            await entry.done.wait()
            return entry.encoded
        assert isinstance(event, MessageEvent)  # only a message not carried is read
        entry = self._remember(event)
        try:
            message = await self.services.chat.resolve(event)
            entry.encoded = self._build(event, message)
        except VezaError:
            pass  # gone meanwhile: nothing to send
        finally:
            entry.done.set()
        return entry.encoded

    def _remember(self, event: Event) -> _Frame:
        entry = self._frames[id(event)] = _Frame(event)
        while len(self._frames) > _FRAME_CACHE:
            self._frames.popitem(last=False)
        return entry

    def _build(self, event: Event, message: MessageRow | None) -> Encoded | None:
        frame: protocol.ServerFrame
        if message is not None:
            frame = protocol.MessageFrame(message=MessageOut.of(message).model_dump(mode="json"))
            return Encoded(
                frame.encode(), Delivered(message.conversation_id, message.seq, message.sender_id)
            )
        elif isinstance(event, ReceiptMoved):
            kind: Literal["delivered", "read"] = "read" if event.kind == "read" else "delivered"
            frame = protocol.Receipt(
                conversation_id=event.conversation_id,
                user_id=event.user_id,
                kind=kind,
                seq=event.seq,
            )
        elif isinstance(event, ReceiptsMoved):
            frame = protocol.Receipts(
                conversation_id=event.conversation_id,
                kind="delivered",
                marks=[protocol.Mark(user_id=str(u), seq=int(s)) for u, s in event.marks],
            )
        elif isinstance(event, TypingChanged):
            frame = protocol.TypingFrame(
                conversation_id=event.conversation_id,
                user_id=event.user_id,
                active=event.active,
                typing=event.typing,
            )
        elif isinstance(event, PresenceChanged):
            status = event.status if event.status in ("online", "away") else "offline"
            frame = protocol.Presence(user_id=event.user_id, status=status)  # type: ignore[arg-type]
        elif isinstance(event, PresencesChanged):
            frame = protocol.Presences(
                users=[
                    protocol.Presence(user_id=str(u), status=s if s in _STATUSES else "offline")  # type: ignore[arg-type]
                    for u, s in event.statuses
                ]
            )
        else:
            frame = protocol.EventFrame(name=event.type, data=event.to_dict())
        return Encoded(frame.encode())

    async def handle(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """One WebSocket, from its handshake to its close."""
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        if not self.origins.allows(scope):
            log.info("WebSocket refused: origin %s not allowed", _header(scope, b"origin"))
            await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": ""})
            return  # before the accept: Hypercorn answers 403
        if self.closing:
            await send({"type": "websocket.close", "code": GOING_AWAY, "reason": ""})
            return
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
        principal = await authenticate(self, scope, receive, send)
        if principal is None:
            return
        connection = Connection(self, principal, receive, send)
        self.sockets.add(connection)
        try:
            await connection.serve()
        finally:
            self.sockets.discard(connection)
            self._sockets_changed.set()
            self._sockets_changed = trio.Event()

    async def wait_idle(self) -> None:
        """Until no socket is open here (tests; a drain)."""
        while self.sockets:
            await self._sockets_changed.wait()


class WebSocketEndpoint:
    """ASGI middleware: `/ws` WebSockets go to the hub, everything else to the app. A raw ASGI
    route, not Quart's websocket wrapper: it measured 1.2x faster for broadcasts, and the close
    codes and the handshake refusal are ours to send."""

    def __init__(self, app: Any, hub: Hub) -> None:
        self._app = app
        self.hub = hub

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH:
            await self.hub.handle(scope, receive, send)
        else:
            await self._app(scope, receive, send)


_KEY = "veza.ws"


def install_websocket(app: QuartTrio, edge: Edge) -> Hub:
    """Serve `/ws` from a new hub; install before the forwarded headers (it reads their
    outcome: the client's scheme and host for the same-origin check)."""
    hub = Hub(edge)
    app.asgi_app = WebSocketEndpoint(app.asgi_app, hub)  # type: ignore[method-assign]
    app.register_blueprint(route.blueprint)  # a plain GET /ws, and the OpenAPI description
    app.extensions[_KEY] = hub
    return hub


def websocket_hub(app: QuartTrio) -> Hub:
    hub: Hub = app.extensions[_KEY]
    return hub
