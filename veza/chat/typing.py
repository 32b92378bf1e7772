"""Typing indicators: who is typing in each conversation, owned by one task per conversation.

`TypingState` is the pure state machine of one conversation (no I/O, time passed in):
`start` and `stop` from clients, `expire` when a deadline passes, each change carrying the full
set of users typing and a version that only grows, so an older state is never told after a
newer one. `TypingOwners` runs it: a client's start or stop goes through a bounded memory
channel to the task of its conversation, started on demand and ended as soon as nobody types
there; that task sleeps until the next expiry or the next input (no polling loop while nobody
types) and publishes every change as `typing.changed` on `conversation:{id}`, so the sockets
of every process hear it through the event bus. The owner also listens there to the owners of
the same conversation in other processes and counts their users in the set it tells; one that
told a set lacking this process's users is answered with the whole set again.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import trio

from veza.events import Event, EventBus, SubscriptionLagged, topic

log = logging.getLogger(__name__)

DEFAULT_EXPIRY_SECONDS = 6.0
MAX_NAMED = 100  # users named in one typing.changed (about 3.5 KB of ids)


@dataclass(frozen=True)
class TypingChanged(Event):
    """The typing state of a conversation changed: `user_id` started or stopped (`active`);
    `typing` is every user typing there now, in order of id; `version` grows with each change
    told by the owner (`origin`, one per process). `typing` names at most `MAX_NAMED` users."""

    type: ClassVar[str] = "typing.changed"
    conversation_id: str
    user_id: str
    active: bool
    typing: list[str]
    version: int
    origin: str


@dataclass(frozen=True)
class Change:
    user_id: str
    active: bool
    typing: tuple[str, ...]
    version: int


class TypingState:
    """Who is typing in one conversation, each until `expiry` seconds after their last start.

    The users typing through this process are its own (`start`, `stop`, `expire`); those typing
    through other processes are what those processes last told (`merge`), kept until they tell
    again or for `expiry` seconds (a process that died stops counting). `typing`, carried by
    every change, is the union."""

    def __init__(self, expiry: float = DEFAULT_EXPIRY_SECONDS) -> None:
        if expiry <= 0:
            raise ValueError("typing states expire after a positive time")
        self.expiry = expiry
        self._until: dict[str, float] = {}  # user -> when their typing state expires
        self._others: dict[str, tuple[frozenset[str], float]] = {}  # origin -> (users, until)
        self._version = 0

    @property
    def typing(self) -> tuple[str, ...]:
        users = set(self._until)
        for others, _ in self._others.values():
            users |= others
        return tuple(sorted(users))

    @property
    def local(self) -> frozenset[str]:
        """The users typing through this process."""
        return frozenset(self._until)

    def merge(self, origin: str, typing: list[str], now: float) -> None:
        """What another process (`origin`) says is typing there now, as it knows it: the users
        it names that are not typing here are counted as that process's."""
        theirs = frozenset(typing) - self._until.keys()
        if theirs:
            self._others[origin] = (theirs, now + self.expiry)
        else:
            self._others.pop(origin, None)

    @property
    def version(self) -> int:
        return self._version

    def __bool__(self) -> bool:
        return bool(self._until)

    def start(self, user_id: str, now: float) -> Change | None:
        """`user_id` is typing (again): a change if they were not, else only a refresh."""
        known = user_id in self._until
        self._until[user_id] = now + self.expiry
        return None if known else self._change(user_id, True)

    def stop(self, user_id: str) -> Change | None:
        """`user_id` stopped typing: a change if they were typing (call `expire` first, so a
        state that ran out is told as such)."""
        if self._until.pop(user_id, None) is None:
            return None
        return self._change(user_id, False)

    def expire(self, now: float) -> list[Change]:
        """Drop every state whose time has come, oldest first, one change each (other
        processes' states go silently: those processes tell their own changes)."""
        for origin, (_, until) in list(self._others.items()):
            if until <= now:
                del self._others[origin]
        due = sorted((until, user) for user, until in self._until.items() if until <= now)
        changes = []
        for _, user in due:
            del self._until[user]
            changes.append(self._change(user, False))
        return changes

    def next_deadline(self) -> float | None:
        """When the next state expires; None when nobody types."""
        return min(self._until.values(), default=None)

    def restate(self) -> Change | None:
        """The current state told again (for another process that told a set lacking ours);
        None when nobody types here."""
        if not self._until:
            return None
        return self._change(min(self._until), True)

    def _change(self, user_id: str, active: bool) -> Change:
        self._version += 1
        return Change(user_id, active, self.typing, self._version)


@dataclass(frozen=True)
class _Input:
    user_id: str
    active: bool


_Told = _Input | TypingChanged  # what an owner hears: a client here, or another process


class TypingOwners:
    """The owner tasks of every conversation someone types in, in this process.

    `run` holds the nursery they live in (started by the WebSocket hub); `submit` hands a client's
    start or stop to the conversation's task, starting it on demand. Time is Trio's clock, so a
    test moves it with a MockClock; the state machine itself is tested with plain numbers.
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        origin: str,
        expiry: float = DEFAULT_EXPIRY_SECONDS,
        queue_size: int = 64,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._bus = bus
        self._origin = origin
        self._expiry = expiry
        self._queue_size = queue_size
        self._clock = clock
        self._owners: dict[str, trio.MemorySendChannel[_Told]] = {}
        self._nursery: trio.Nursery | None = None

    @property
    def active_conversations(self) -> int:
        """Conversations with a live owner task (someone types there, or just stopped)."""
        return len(self._owners)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self._nursery = None
                self._owners.clear()

    def submit(self, conversation_id: str, user_id: str, active: bool) -> bool:
        """Tell the conversation's owner; False when it is swamped (its queue is full) or not
        running (shutting down): the input is dropped, which a client sees as nothing at all."""
        channel = self._owners.get(conversation_id)
        if channel is None:
            if not active or self._nursery is None:
                return not active  # stopping when nobody types there: nothing to do
            send, receive = trio.open_memory_channel[_Told](self._queue_size)
            self._owners[conversation_id] = channel = send
            self._nursery.start_soon(self._own, conversation_id, send, receive)
        try:
            channel.send_nowait(_Input(user_id, active))
        except trio.WouldBlock:
            log.info("typing input dropped: conversation %s is swamped", conversation_id)
            return False
        return True

    async def _own(
        self,
        conversation_id: str,
        send: trio.MemorySendChannel[_Told],
        receive: trio.MemoryReceiveChannel[_Told],
    ) -> None:
        name = topic("conversation", conversation_id)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._listen, name, send)
                await self._decide(TypingState(self._expiry), conversation_id, name, receive)
                nursery.cancel_scope.cancel()
        finally:
            # No checkpoint between the last look at the queue and this: nothing is lost.
            if self._owners.get(conversation_id) is send:
                del self._owners[conversation_id]
            send.close()
            receive.close()

    async def _listen(
        self,
        name: str,
        send: trio.MemorySendChannel[_Told],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """What the other processes' owners of this conversation tell, to the owner's queue."""
        started = False
        while True:
            try:
                async with self._bus.subscribe(name, size=self._queue_size) as subscription:
                    if not started:
                        started = True
                        task_status.started()
                    async for delivery in subscription:
                        event = delivery.event
                        if isinstance(event, TypingChanged) and event.origin != self._origin:
                            with contextlib.suppress(trio.WouldBlock):
                                send.send_nowait(event)  # lossy: the next one says it all
            except SubscriptionLagged:
                continue  # each event carries a whole set: nothing to catch up on

    async def _decide(
        self,
        state: TypingState,
        conversation_id: str,
        name: str,
        receive: trio.MemoryReceiveChannel[_Told],
    ) -> None:
        while True:
            deadline = state.next_deadline()
            if deadline is None and receive.statistics().current_buffer_used == 0:
                return  # nobody types here: the task ends (a later start makes a new one)
            wait = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with trio.move_on_after(wait):
                got = await receive.receive()
                now = self._clock()
                for change in state.expire(now):
                    self._publish(name, conversation_id, change)
                if isinstance(got, TypingChanged):
                    state.merge(got.origin, got.typing, now)
                    # Told without some of ours (that process learnt of them after they
                    # started): say it all again, so every process shows the whole set.
                    lacking = state.local - set(got.typing)
                    told = state.restate() if lacking and len(got.typing) < MAX_NAMED else None
                elif got.active:
                    told = state.start(got.user_id, now)
                else:
                    told = state.stop(got.user_id)
                if told is not None:
                    self._publish(name, conversation_id, told)
                continue
            for change in state.expire(self._clock()):
                self._publish(name, conversation_id, change)

    def _publish(self, name: str, conversation_id: str, change: Change) -> None:
        event = TypingChanged(
            conversation_id,
            change.user_id,
            change.active,
            # Named up to a bound, so the event always fits a cross-process notification.
            list(change.typing[:MAX_NAMED]),
            change.version,
            self._origin,
        )
        try:
            self._bus.publish(name, event)
        except Exception:  # the relay refused it: the state goes on, the next change is told
            log.exception("typing change in conversation %s not published", conversation_id)
