"""Presence: online, away or offline per user, across all their sockets in this process.

`PresenceState` is the pure state machine (time passed in): a user is online from their first
socket, away when they say so (a `presence` frame) or when their sockets sent nothing for
`away_after` seconds, online again on activity (unless they chose away), and offline
`offline_grace` seconds after their last socket closed (a reconnect within the grace is no
change at all). `PresenceOwner` runs it in one task fed by a bounded memory channel, sleeping
until the next deadline, and publishes each change as `presence.changed` on the topic of every
conversation the user is in (`audience`), so the people who share a conversation with them hear
it, on every process, through the event bus; and on the user's own topic, where the owners of
the other processes hear it: each counts the others' word for the users it knows and shows the
liveliest, so a user online through two processes is offline only once both let go.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import trio

from veza.events import Event, EventBus, Subscription, SubscriptionLagged, topic

log = logging.getLogger(__name__)

Status = Literal["online", "away", "offline"]
DEFAULT_AWAY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class PresenceChanged(Event):
    """`status` is the user's presence as the process `origin` sees it (its own sockets and
    what the other processes told it); `local` is what its own sockets alone say, which the
    other processes count in theirs."""

    type: ClassVar[str] = "presence.changed"
    user_id: str
    status: str
    origin: str
    local: str = "offline"
    heard: list[str] = field(default_factory=list)  # the other processes `origin` counted


_RANK: dict[str, int] = {"offline": 0, "away": 1, "online": 2}


@dataclass
class _User:
    sockets: int = 0
    chose_away: bool = False
    last_active: float = 0.0
    status: Status = "offline"
    offline_at: float | None = None  # with no socket left: when the grace ends
    deadline: float | None = None  # when `due` looks at this user next


class PresenceState:
    def __init__(
        self, away_after: float = DEFAULT_AWAY_AFTER_SECONDS, offline_grace: float = 10.0
    ) -> None:
        self.away_after = away_after
        self.offline_grace = offline_grace
        self._users: dict[str, _User] = {}
        self._deadlines: list[tuple[float, str]] = []  # a heap; stale entries skipped
        # What other processes say of users known here: user -> origin -> their local status.
        self._elsewhere: dict[str, dict[str, Status]] = {}

    def status(self, user_id: str) -> Status:
        """The user's presence through this process's sockets alone."""
        user = self._users.get(user_id)
        return "offline" if user is None else user.status

    def shown(self, user_id: str) -> Status:
        """The user's presence across processes, as far as they told: the liveliest."""
        best = self.status(user_id)
        for status in self._elsewhere.get(user_id, {}).values():
            if _RANK[status] > _RANK[best]:
                best = status
        return best

    def merge(self, user_id: str, origin: str, status: Status) -> bool:
        """What another process's sockets say of a user known here; True if the user is known
        here (then that process should count this one's word too)."""
        if user_id not in self._users:
            return False  # not ours to show: that process tells its own
        known = self._elsewhere.setdefault(user_id, {})
        if status == "offline":
            known.pop(origin, None)
        else:
            known[origin] = status
        return True

    def heard(self, user_id: str) -> list[str]:
        """The other processes whose word on the user counts here."""
        return sorted(self._elsewhere.get(user_id, {}))

    def forget(self, user_id: str) -> None:
        """Drop what other processes said of a user no longer known here."""
        if user_id not in self._users:
            self._elsewhere.pop(user_id, None)

    def __len__(self) -> int:
        """Users known (online, away, or within their offline grace)."""
        return len(self._users)

    def connected(self, user_id: str, now: float) -> Status | None:
        user = self._users.setdefault(user_id, _User())
        user.sockets += 1
        user.last_active = now
        user.offline_at = None
        if user.sockets == 1 and user.status == "offline":
            user.chose_away = False
        return self._settle(user_id, user, now)

    def disconnected(self, user_id: str, now: float) -> Status | None:
        user = self._users.get(user_id)
        if user is None or user.sockets == 0:
            return None
        user.sockets -= 1
        if user.sockets == 0:
            user.offline_at = now + self.offline_grace
        return self._settle(user_id, user, now)

    def active(self, user_id: str, now: float) -> Status | None:
        """One of the user's sockets sent something."""
        user = self._users.get(user_id)
        if user is None or user.sockets == 0:
            return None
        user.last_active = now
        return self._settle(user_id, user, now)

    def choose(self, user_id: str, status: Literal["online", "away"], now: float) -> Status | None:
        user = self._users.get(user_id)
        if user is None or user.sockets == 0:
            return None
        user.chose_away = status == "away"
        user.last_active = now
        return self._settle(user_id, user, now)

    def due(self, now: float) -> list[tuple[str, Status]]:
        """The changes whose time has come, in deadline order."""
        changes: list[tuple[str, Status]] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            when, user_id = heapq.heappop(self._deadlines)
            user = self._users.get(user_id)
            if user is None or user.deadline != when:
                continue  # superseded
            user.deadline = None
            status = self._settle(user_id, user, now)
            if status is not None:
                changes.append((user_id, status))
        return changes

    def next_deadline(self) -> float | None:
        while self._deadlines:
            when, user_id = self._deadlines[0]
            user = self._users.get(user_id)
            if user is not None and user.deadline == when:
                return when
            heapq.heappop(self._deadlines)
        return None

    def _settle(self, user_id: str, user: _User, now: float) -> Status | None:
        """Bring the user's status in line with their sockets, choice and activity; schedule
        their next look; the new status if it changed."""
        if user.sockets > 0:
            idle_until = user.last_active + self.away_after
            away = user.chose_away or now >= idle_until
            status: Status = "away" if away else "online"
            deadline = None if away else idle_until
        else:
            offline_at = now if user.offline_at is None else user.offline_at
            if user.status == "offline" or now >= offline_at:
                status, deadline = "offline", None
            else:
                status, deadline = user.status, offline_at
        if deadline != user.deadline:
            user.deadline = deadline
            if deadline is not None:
                heapq.heappush(self._deadlines, (deadline, user_id))
        if status == "offline" and user.sockets == 0:
            del self._users[user_id]
        if status == user.status:
            return None
        user.status = status
        return status


@dataclass(frozen=True)
class _Input:
    kind: Literal["connected", "disconnected", "active", "online", "away", "elsewhere"]
    user_id: str
    origin: str = ""  # for "elsewhere": which process, what its sockets say, whom it heard
    status: Status = "offline"
    answer: bool = False  # for "elsewhere": it did not count this process: tell it


class PresenceOwner:
    """The one task that owns this process' presence state; sockets talk to it through
    `connected`, `disconnected`, `active` and `choose`."""

    def __init__(
        self,
        bus: EventBus,
        audience: Callable[[str], Awaitable[Iterable[str]]],
        *,
        origin: str,
        away_after: float = DEFAULT_AWAY_AFTER_SECONDS,
        offline_grace: float = 10.0,
        queue_size: int = 1024,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        """`audience(user_id)`: the topics that hear the user's presence (their
        conversations')."""
        self._bus = bus
        self._audience = audience
        self._origin = origin
        self._state = PresenceState(away_after, offline_grace)
        self._clock = clock
        self._send, self._receive = trio.open_memory_channel[_Input](queue_size)
        self._watched: set[str] = set()  # the topics of the users known here
        # Users gone from here but told online on other processes' word: those processes.
        self._vouched: dict[str, set[str]] = {}
        self._subscription: Subscription | None = None

    def status(self, user_id: str) -> Status:
        return self._state.shown(user_id)

    async def connected(self, user_id: str) -> None:
        await self._send.send(_Input("connected", user_id))

    async def disconnected(self, user_id: str) -> None:
        await self._send.send(_Input("disconnected", user_id))

    def active(self, user_id: str) -> None:
        """Lossy: activity is reported often, and one lost report is made up by the next."""
        with contextlib.suppress(trio.WouldBlock):
            self._send.send_nowait(_Input("active", user_id))

    async def choose(self, user_id: str, status: Literal["online", "away"]) -> None:
        await self._send.send(_Input(status, user_id))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._listen)
            task_status.started()
            await self._decide()

    async def _listen(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """What other processes say of the users known here (on their `user:{id}` topics), to
        the owner's queue. After a lag (events lost), each is told again by its next change."""
        started = False
        while True:
            try:
                async with self._bus.subscribe(*self._watched) as subscription:
                    self._subscription = subscription
                    if not started:
                        started = True
                        task_status.started()
                    async for delivery in subscription:
                        event = delivery.event
                        if isinstance(event, PresenceChanged) and event.origin != self._origin:
                            local = event.local if event.local in _RANK else "offline"
                            answer = self._origin not in event.heard
                            told = _Input("elsewhere", event.user_id, event.origin, local, answer)  # type: ignore[arg-type]
                            with contextlib.suppress(trio.WouldBlock):
                                self._send.send_nowait(told)
            except SubscriptionLagged:
                continue

    def _watch(self, user_id: str, watched: bool) -> None:
        name = topic("user", user_id)
        if watched:
            self._watched.add(name)
            if self._subscription is not None:
                self._subscription.add(name)
        else:
            self._watched.discard(name)
            if self._subscription is not None:
                self._subscription.discard(name)

    async def _decide(self) -> None:
        state = self._state
        while True:
            deadline = state.next_deadline()
            wait = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with trio.move_on_after(wait):
                got = await self._receive.receive()
                now = self._clock()
                for user_id, _ in state.due(now):
                    await self._publish(user_id)
                if got.kind == "elsewhere":
                    known = state.merge(got.user_id, got.origin, got.status)
                    if known and got.answer and state.status(got.user_id) != "offline":
                        await self._publish(got.user_id)  # that process did not count ours
                    elif not known:
                        await self._let_go(got)
                elif self._apply(got, now) is not None:
                    await self._publish(got.user_id)
                continue
            for user_id, _ in state.due(self._clock()):
                await self._publish(user_id)

    def _apply(self, got: _Input, now: float) -> Status | None:
        state = self._state
        if got.kind == "connected":
            self._watch(got.user_id, True)
            self._vouched.pop(got.user_id, None)  # known here again
            return state.connected(got.user_id, now)
        if got.kind == "disconnected":
            return state.disconnected(got.user_id, now)
        if got.kind == "active":
            return state.active(got.user_id, now)
        if got.kind in ("online", "away"):
            return state.choose(got.user_id, got.kind, now)
        return None

    async def _publish(self, user_id: str) -> None:
        """Tell the user's presence: to those who share a conversation with them, and on their
        own topic, where the other processes' owners hear it."""
        state = self._state
        local = state.status(user_id)
        shown = state.shown(user_id)
        event = PresenceChanged(user_id, shown, self._origin, local, state.heard(user_id))
        if local == "offline":  # no longer known here
            if shown != "offline":
                # Told online on the word of other processes, which may let the user go at the
                # same moment, each on the word of this one: this one tells offline once those
                # it counted have said so.
                self._vouched[user_id] = set(state.heard(user_id))
            else:
                self._watch(user_id, False)
            state.forget(user_id)
        await self._tell(user_id, event)

    async def _let_go(self, got: _Input) -> None:
        """Another process's word on a user this one told online for others: once none of them
        has the user any more, offline."""
        vouched = self._vouched.get(got.user_id)
        if vouched is None or got.status != "offline":
            return
        vouched.discard(got.origin)
        if not vouched:
            del self._vouched[got.user_id]
            self._watch(got.user_id, False)
            await self._tell(
                got.user_id, PresenceChanged(got.user_id, "offline", self._origin, "offline")
            )

    async def _tell(self, user_id: str, event: PresenceChanged) -> None:
        try:
            topics = [topic("user", user_id), *await self._audience(user_id)]
        except Exception:
            log.exception("presence of user %s: cannot list who hears it", user_id)
            return
        for name in topics:
            try:
                self._bus.publish(name, event)
            except Exception:  # the relay refused it: presence goes on
                log.exception("presence of user %s not published on %s", user_id, name)
