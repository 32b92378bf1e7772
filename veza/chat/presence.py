"""Presence: online, away or offline per user, across all their sockets in this process.

`PresenceState` is the pure state machine (time passed in): a user is online from their first
socket, away when they say so (a `presence` frame) or when their sockets sent nothing for
`away_after` seconds, online again on activity (unless they chose away), and offline
`offline_grace` seconds after their last socket closed (a reconnect within the grace is no
change at all). `PresenceOwner` runs it in one task fed by a bounded memory channel, sleeping
until the next deadline, and publishes each change as `presence.changed` on the topic of every
conversation the user is in (`audience`), so the people who share a conversation with them hear
it, on every process, through the event bus.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

import trio

from veza.events import Event, EventBus

log = logging.getLogger(__name__)

Status = Literal["online", "away", "offline"]
DEFAULT_AWAY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class PresenceChanged(Event):
    type: ClassVar[str] = "presence.changed"
    user_id: str
    status: str
    origin: str


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

    def status(self, user_id: str) -> Status:
        user = self._users.get(user_id)
        return "offline" if user is None else user.status

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
    kind: Literal["connected", "disconnected", "active", "online", "away"]
    user_id: str


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

    def status(self, user_id: str) -> Status:
        return self._state.status(user_id)

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
        task_status.started()
        state = self._state
        while True:
            deadline = state.next_deadline()
            wait = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with trio.move_on_after(wait):
                got = await self._receive.receive()
                now = self._clock()
                for user_id, status in state.due(now):
                    await self._publish(user_id, status)
                changed = self._apply(got, now)
                if changed is not None:
                    await self._publish(got.user_id, changed)
                continue
            for user_id, status in state.due(self._clock()):
                await self._publish(user_id, status)

    def _apply(self, got: _Input, now: float) -> Status | None:
        state = self._state
        if got.kind == "connected":
            return state.connected(got.user_id, now)
        if got.kind == "disconnected":
            return state.disconnected(got.user_id, now)
        if got.kind == "active":
            return state.active(got.user_id, now)
        return state.choose(got.user_id, got.kind, now)

    async def _publish(self, user_id: str, status: Status) -> None:
        event = PresenceChanged(user_id, status, self._origin)
        try:
            topics = list(await self._audience(user_id))
        except Exception:
            log.exception("presence of user %s: cannot list who hears it", user_id)
            return
        for name in topics:
            try:
                self._bus.publish(name, event)
            except Exception:  # the relay refused it: presence goes on
                log.exception("presence of user %s not published on %s", user_id, name)
