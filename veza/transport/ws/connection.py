"""One WebSocket after its handshake: authentication, then its nursery of four tasks.

- the writer drains the one bounded outbound queue (veza/transport/ws/outbound.py) and sends
  the close frame when the socket ends;
- the reader takes the client's frames in order and answers each (a refused one with an
  `error` frame: the socket stays open);
- the heartbeat queues a `ping` every `ws_ping_interval_seconds` and closes the socket once
  nothing arrived for `ws_idle_timeout_seconds`;
- the forwarder holds the socket's subscription to the event bus (the user's topic, their
  conversations', the tracks and playlists subscribed to) and turns events into frames. Most
  events never wake it: while it waits, the bus hands each one to the subscription's direct
  handler, which puts the frame on the outbound queue in the publisher's call; the forwarder
  takes what would have to wait (a message read from the store, one behind a resume) and
  what comes after it. When the bus drops it for lagging (or the relay lost its LISTEN
  connection), it subscribes again and resynchronises each conversation from the store, from
  the last seq this socket sent.

The socket lives as long as its session: a `session.revoked` for it closes it with 1008.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from veza.accounts import Permission, Principal
from veza.accounts.events import SessionRevoked
from veza.chat import MemberAdded, MemberRemoved, MessagePosted
from veza.chat.presence import PresenceChanged
from veza.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    ResyncRequired,
    Unauthenticated,
    VezaError,
)
from veza.events import (
    Delivery,
    Event,
    InvalidTopic,
    Subscription,
    SubscriptionLagged,
    check_topic,
    topic,
)
from veza.tracks.events import TrackAdded, TrackFailed, TrackReady
from veza.transport.api.conversations import MessageOut
from veza.transport.ws import protocol
from veza.transport.ws.outbound import TRY_AGAIN_LATER, Close, Delivered, Outbound
from veza.transport.ws.protocol import FrameError

if TYPE_CHECKING:
    from veza.transport.ws.hub import Encoded, Hub

log = logging.getLogger("veza.ws")

# Bounds of the presence told with `ready`: the peers looked at (one store query, by id),
# the present ones named.
PRESENT_SCANNED = 10_000
PRESENT_PEERS = 1000

NORMAL = 1000
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


async def _close(send: ASGISendCallable, code: int, reason: str) -> None:
    await send({"type": "websocket.close", "code": code, "reason": reason})


def _bearer(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer` header; "" for another scheme (refused), None
    when there is no such header (then an `auth` frame comes)."""
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())  # type: ignore[assignment]
    for key, value in headers:
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return ""
    return None


async def authenticate(
    hub: Hub, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> Principal | None:
    """The socket's user: from the Authorization header, or from an `auth` frame that must come
    first, within `ws_auth_timeout_seconds`. None once the socket is closed (1008) or gone."""
    token = _bearer(scope)
    if token is None:
        with trio.move_on_after(hub.settings.ws_auth_timeout_seconds):
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return None
            try:
                frame = protocol.parse_client_frame(payload(message))
            except FrameError as error:
                await _close(send, POLICY_VIOLATION, f"authenticate first: {error.code}")
                return None
            if not isinstance(frame, protocol.Auth):
                await _close(send, POLICY_VIOLATION, "authenticate first: send an auth frame")
                return None
            token = frame.token
        if token is None:
            await _close(send, POLICY_VIOLATION, "no auth frame in time")
            return None
    try:
        return await hub.services.accounts.authenticate(token)
    except Unauthenticated:
        await _close(send, POLICY_VIOLATION, "the token is invalid, expired or revoked")
        return None


class Connection:
    def __init__(
        self, hub: Hub, principal: Principal, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        self._hub = hub
        self._services = hub.services
        self._settings = hub.settings
        self.principal = principal
        self.user_id = principal.user.id
        self._receive = receive
        self._send = send
        self.outbound = Outbound(self._settings.ws_outbound_queue_size)
        self._cancel = trio.CancelScope()
        self._last_received = trio.current_time()
        self._last_activity_told = -math.inf
        # What the forwarder subscribes to: the user, their conversations, and what the client
        # subscribed to; `_subscription` is the current subscription (replaced after a lag).
        self._user_topic = topic("user", self.user_id)
        self.conversations: set[str] = set()
        self._subscribed: set[str] = set()  # topics from `subscribe` frames
        self._own_tracks: set[str] = set()  # topics of the user's tracks being transcoded
        self._subscription: Subscription | None = None
        self._last_seq: dict[str, int] = {}  # per conversation, the last seq sent here
        self._chat_lock = trio.Lock()  # a resume and live messages: in order, never mixed
        self._last_event: Event | None = None
        self._posting = False  # the reader is in a `send`: its message waits for the ack
        # Frames of events that came between the subscription and `ready` (its peers are read
        # after subscribing, so that no change is missed): sent right after it, so that
        # `ready` is always the first frame. None once `ready` went out.
        self._held: list[tuple[str, Delivered | None]] | None = []

    def close(self, code: int, reason: str) -> None:
        self.outbound.close(code, reason)

    def _put(self, text: str, delivered: Delivered | None = None) -> None:
        if self._held is not None:
            if len(self._held) < self._settings.ws_outbound_queue_size:
                self._held.append((text, delivered))
            else:  # as many as the outbound queue holds: the same bound, the same close
                self._held = None
                self.outbound.close(TRY_AGAIN_LATER, "too slow: the client did not keep up")
            return
        was_open = self.outbound.closing is None
        if not self.outbound.put(text, delivered) and was_open:
            log.info("socket of user %s closed: it did not keep up", self.user_id)

    def _error(self, code: str, message: str, **extra: object) -> None:
        self._put(protocol.ErrorFrame(code=code, message=message, **extra).encode())  # type: ignore[arg-type]

    def _topics(self) -> set[str]:
        conversations = {topic("conversation", c) for c in self.conversations}
        return {self._user_topic} | conversations | self._subscribed | self._own_tracks

    # The nursery

    async def serve(self) -> None:
        presence = self._hub.presence
        with self._cancel:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write)
                await nursery.start(self._forward)
                if self.outbound.closing is not None:
                    return  # the session ended meanwhile: the writer sends the close
                await presence.connected(self.user_id)
                try:
                    ready = protocol.Ready(
                        user_id=self.user_id,
                        session_id=self.principal.session_id,
                        ping_interval_s=self._settings.ws_ping_interval_seconds,
                        idle_timeout_s=self._settings.ws_idle_timeout_seconds,
                        present=await self._present_peers(),
                    ).encode()
                    held, self._held = self._held or [], None
                    self._put(ready)
                    for text, note in held:
                        self._put(text, note)
                    nursery.start_soon(self._read)
                    nursery.start_soon(self._heartbeat)
                    await trio.sleep_forever()
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(1):
                        await presence.disconnected(self.user_id)

    async def _present_peers(self) -> list[protocol.Presence]:
        """Who shares a conversation with the user and is online or away (through the sockets
        of any process), so a client shows presence at once rather than at each peer's next
        change."""
        peers = await self._services.chat.peer_ids_of(self.user_id, PRESENT_SCANNED)
        statuses = ((peer, self._hub.presence.status(peer)) for peer in peers)
        return [
            protocol.Presence(user_id=peer, status=status)
            for peer, status in statuses
            if status != "offline"
        ][:PRESENT_PEERS]

    async def _write(self) -> None:
        delivered = self._hub.delivered
        while True:
            item = await self.outbound.get()
            if isinstance(item, Close):
                await _close(self._send, item.code, item.reason)
                self._cancel.cancel()
                return
            text, note = item
            await self._send({"type": "websocket.send", "text": text, "bytes": None})
            if note is not None:
                delivered.note(self.user_id, note)

    async def _heartbeat(self) -> None:
        interval = self._settings.ws_ping_interval_seconds
        idle = self._settings.ws_idle_timeout_seconds
        next_ping = trio.current_time() + interval
        while True:
            await trio.sleep_until(min(next_ping, self._last_received + idle))
            now = trio.current_time()
            if now >= self._last_received + idle:
                self.close(NORMAL, f"nothing received for {idle:g} s")
                return
            if now >= next_ping:
                self._put(protocol.PING)
                next_ping = now + interval

    # Reading

    async def _read(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] != "websocket.receive":
                self._cancel.cancel()  # the client went away (or the server closed it)
                return
            self._last_received = trio.current_time()
            try:
                frame = protocol.parse_client_frame(payload(message))
            except FrameError as error:
                self._error(error.code, error.message)
                continue
            if not isinstance(frame, protocol.Pong | protocol.ClientPing):
                self._tell_activity()
            try:
                await self._handle(frame)
            except FrameError as error:
                self._error(error.code, error.message)
            except RateLimited as error:
                client_id = frame.client_id if isinstance(frame, protocol.Send) else None
                self._error(
                    error.code, error.message, retry_after=error.retry_after, client_id=client_id
                )
            except VezaError as error:
                client_id = getattr(frame, "client_id", None)
                self._error(error.code, error.message, client_id=client_id)
            except Exception:
                log.exception("socket of user %s: %s frame failed", self.user_id, frame.type)
                self._error("internal_error", "internal error")

    def _tell_activity(self) -> None:
        now = trio.current_time()
        # Often enough for the away timer, not once per frame.
        if now - self._last_activity_told >= self._settings.presence_away_after_seconds / 10:
            self._last_activity_told = now
            self._hub.presence.active(self.user_id)

    async def _handle(self, frame: protocol.ClientFrame) -> None:
        chat = self._services.chat
        limits = self._hub.edge.chat_limits
        if isinstance(frame, protocol.Pong):
            return
        if isinstance(frame, protocol.ClientPing):
            self._put(protocol.PONG)
        elif isinstance(frame, protocol.Auth):
            raise Forbidden("already authenticated")
        elif isinstance(frame, protocol.Send):
            limits.send(self.user_id)
            self._posting = True
            try:
                posted = await chat.post(
                    self.principal, frame.conversation_id, frame.body, frame.client_id
                )
            finally:
                self._posting = False
            message = MessageOut.of(posted.message).model_dump(mode="json")
            self._put(protocol.Ack(client_id=frame.client_id, message=message).encode())
        elif isinstance(frame, protocol.Edit):
            limits.send(self.user_id)
            await chat.edit(self.principal, frame.conversation_id, frame.seq, frame.body)
        elif isinstance(frame, protocol.Delete):
            await chat.delete(self.principal, frame.conversation_id, frame.seq)
        elif isinstance(frame, protocol.Read):
            await chat.mark_read(self.principal, frame.conversation_id, frame.seq)
        elif isinstance(frame, protocol.Typing):
            limits.typing(self.user_id)
            await self._check_member(frame.conversation_id)
            if not self.principal.can(Permission.CHAT):
                raise Forbidden(f"the {self.principal.role.value} role lacks the chat permission")
            self._hub.typing.submit(frame.conversation_id, self.user_id, frame.active)
        elif isinstance(frame, protocol.Resume):
            await self._resume(frame.conversation_id, frame.after_seq)
        elif isinstance(frame, protocol.Subscribe):
            await self._subscribe(frame.topic)
        elif isinstance(frame, protocol.Unsubscribe):
            self._unsubscribe(frame.topic)
        elif isinstance(frame, protocol.SetPresence):
            await self._hub.presence.choose(self.user_id, frame.status)

    async def _check_member(self, conversation_id: str) -> None:
        if conversation_id in self.conversations:
            return
        # Not (yet) known here: the store says whether it exists and whether the user is in it.
        await self._services.chat.require_member(self.user_id, conversation_id)
        self._join(conversation_id)

    async def _resume(self, conversation_id: str, after_seq: int) -> None:
        async with self._chat_lock:
            try:
                missed = await self._services.chat.after(self.principal, conversation_id, after_seq)
            except ResyncRequired:
                self._put(protocol.Resync(conversation_id=conversation_id).encode())
                return
            self._join(conversation_id)
            for message in missed:
                self._put_message(
                    Delivered(conversation_id, message.seq, message.sender_id),
                    message_text(message),
                    replay=True,
                )

    async def _subscribe(self, name: str) -> None:
        try:
            kind, _, ident = topic_parts(name)
        except InvalidTopic:
            raise FrameError("unknown_topic", "unknown topic") from None
        if kind == "track":
            if not self.principal.can(Permission.READ):
                raise Forbidden(f"the {self.principal.role.value} role lacks the read permission")
            # NotFound for a track that does not exist or that this user may not see.
            await self._services.tracks.visible(self.principal, ident)
        elif kind == "playlist":
            if not await self._services.playlists.can_read(self.principal, ident):
                raise NotFound("no such playlist")
        else:
            raise FrameError("unknown_topic", "unknown topic")
        if name not in self._subscribed:
            if len(self._subscribed) >= self._settings.ws_max_topics:
                raise FrameError(
                    "too_many_topics",
                    f"at most {self._settings.ws_max_topics} subscriptions per socket",
                )
            self._subscribed.add(name)
            if self._subscription is not None:
                self._subscription.add(name)
        self._put(protocol.Subscribed(topic=name).encode())

    def _unsubscribe(self, name: str) -> None:
        if name in self._subscribed:
            self._subscribed.discard(name)
            if self._subscription is not None and name not in self._own_tracks:
                self._subscription.discard(name)
        self._put(protocol.Unsubscribed(topic=name).encode())

    def _join(self, conversation_id: str) -> None:
        if conversation_id not in self.conversations:
            self.conversations.add(conversation_id)
            if self._subscription is not None:
                self._subscription.add(topic("conversation", conversation_id))

    def _leave(self, conversation_id: str) -> None:
        self.conversations.discard(conversation_id)
        self._last_seq.pop(conversation_id, None)
        if self._subscription is not None:
            self._subscription.discard(topic("conversation", conversation_id))

    # Forwarding the bus

    async def _forward(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        services = self._services
        conversations = await services.chat.conversation_ids_of(self.user_id)
        self.conversations.update(conversations)
        # The user's uploads still transcoding (a reconnect in the middle of one): followed.
        processing = await services.tracks.processing_of(self.user_id, self._settings.ws_max_topics)
        self._own_tracks.update(topic("track", t) for t in processing)
        resync = False
        while True:
            try:
                async with services.events.subscribe(
                    *self._topics(),
                    size=self._settings.ws_subscription_queue_size,
                    direct=self._take,
                ) as subscription:
                    self._subscription = subscription
                    # A revocation published before the subscription existed was missed: ask.
                    if not await services.accounts.session_alive(self.principal.session_id):
                        self.close(POLICY_VIOLATION, "the session has ended")
                        task_status.started()
                        return
                    if resync:
                        await self._resync()
                    else:
                        task_status.started()
                    async for delivery in subscription:
                        await self._on(delivery)
            except SubscriptionLagged:
                log.info("socket of user %s lagged: resynchronising", self.user_id)
                self._subscription = None
                resync = True
            except Exception:
                # The store failed under us, say: better a reconnect and a resume than a socket
                # that silently misses messages.
                log.exception("socket of user %s: forwarding failed", self.user_id)
                self.close(INTERNAL_ERROR, "internal error: reconnect and resume")
                task_status.started()
                return

    async def _resync(self) -> None:
        """After a gap in the events: each conversation's missed messages from the store."""
        async with self._chat_lock:
            for conversation_id in sorted(self.conversations):
                after = self._last_seq.get(conversation_id)
                if after is None:
                    # Nothing of it went out here: the client fetches what it needs.
                    self._put(protocol.Resync(conversation_id=conversation_id).encode())
                    continue
                try:
                    missed = await self._services.chat.after(self.principal, conversation_id, after)
                except ResyncRequired:
                    self._put(protocol.Resync(conversation_id=conversation_id).encode())
                    continue
                except VezaError:  # no longer a member
                    self._leave(conversation_id)
                    continue
                for message in missed:
                    self._put_message(
                        Delivered(conversation_id, message.seq, message.sender_id),
                        message_text(message),
                        replay=True,
                    )

    def _put_message(self, message: Delivered, text: str, *, replay: bool = False) -> None:
        """A message frame, unless a live one this socket already sent (in a replay: a resume
        or a resync); a replay sends what it was asked for (the client keeps the first copy of
        each seq). Once written, it counts as delivered unless the user sent it."""
        conversation_id, seq = message.conversation_id, message.seq
        last = self._last_seq.get(conversation_id, 0)
        if seq <= last and not replay:
            return
        self._last_seq[conversation_id] = max(seq, last)
        self._put(text, None if message.sender_id == self.user_id else message)

    def _take(self, delivery: Delivery) -> bool:
        """The bus' direct path (veza/events/bus.py): while the forwarder waits with nothing
        queued, the publisher's call handles the delivery here, with no task woken but the
        writer's, as long as that needs no wait: the frame is built or can be built from the
        event, and no resume or resync is replaying messages. False leaves it to the forwarder,
        which then handles it, and whatever comes after it, in order."""
        event = delivery.event
        if isinstance(event, MessagePosted) and (self._posting or self._chat_lock.locked()):
            # Behind a replay; or this socket's own send, whose `ack` the reader puts when
            # `post` returns, before the forwarder runs: the ack comes first.
            return False
        built = self._hub.built(event)
        if built is None:
            return False
        if self._admit(delivery) and built.encoded is not None:
            self._emit(event, built.encoded)
        return True

    async def _on(self, delivery: Delivery) -> None:
        """The forwarder's path: what the direct one declined."""
        if not self._admit(delivery):
            return
        event = delivery.event
        encoded = await self._hub.encode(event)
        if encoded is None:
            return
        if isinstance(event, MessagePosted) and self._chat_lock.locked():
            async with self._chat_lock:  # a resume or resync is replaying: after it
                self._emit(event, encoded)
        else:  # nothing between the check and the put can let a replay in
            self._emit(event, encoded)

    def _admit(self, delivery: Delivery) -> bool:
        """What an event changes for this socket (its topics, its conversations, the end of
        its session), and whether its frame is sent here."""
        event = delivery.event
        if event is self._last_event:
            return False  # the same event on several of our topics (presence, member changes)
        self._last_event = event
        kind, _, ident = delivery.topic.partition(":")
        if kind == "conversation" and ident not in self.conversations:
            return False  # left it: what was still queued stays here
        if isinstance(event, PresenceChanged) and event.user_id == self.user_id:
            return False  # people see their own presence in their client
        if isinstance(event, SessionRevoked):
            if event.ends(self.principal.session_id):
                self.close(POLICY_VIOLATION, "the session has ended")
            return False
        if isinstance(event, MemberRemoved) and event.user_id == self.user_id:
            self._leave(event.conversation_id)
        elif isinstance(event, MemberAdded) and event.user_id == self.user_id:
            self._join(event.conversation_id)
        elif isinstance(event, TrackAdded):
            name = topic("track", event.track_id)
            self._own_tracks.add(name)
            if self._subscription is not None:
                self._subscription.add(name)
        elif isinstance(event, TrackReady | TrackFailed):
            name = topic("track", event.track_id)
            if name in self._own_tracks:
                self._own_tracks.discard(name)
                if self._subscription is not None and name not in self._subscribed:
                    self._subscription.discard(name)
        return True

    def _emit(self, event: Event, encoded: Encoded) -> None:
        if isinstance(event, MessagePosted) and encoded.message is not None:
            self._put_message(encoded.message, encoded.text)
        else:
            self._put(encoded.text)


def payload(message: Mapping[str, Any]) -> str | bytes:
    """What a `websocket.receive` carries: its text, else its bytes."""
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes")
    return bytes(data) if data is not None else b""


def message_text(message: object) -> str:
    return protocol.MessageFrame(message=MessageOut.of(message).model_dump(mode="json")).encode()  # type: ignore[arg-type]


def topic_parts(name: str) -> tuple[str, str, str]:
    return check_topic(name).partition(":")
