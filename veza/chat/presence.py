"""Presence: online, away or offline per user, across all their sockets and processes.

`PresenceState` is the pure state machine (time passed in): a user is online from their first
socket, away when they say so (a `presence` frame) or when their sockets sent nothing for
`away_after` seconds, online again on activity (unless they chose away), and offline
`offline_grace` seconds after their last socket closed (a reconnect within the grace is no
change at all). It also keeps what the other processes' sockets say of every user (their
"word"), and shows the liveliest of all.

`PresenceOwner` runs it in one task fed by a bounded memory channel, sleeping until the next
deadline. Each change of its own sockets' word goes to the other processes on the one topic
`presence:all` (`presence.changed`, which every process hears: the relay carries every event to
every process anyway), and, when what it shows changed, to the topic of every conversation the
user is in (`audience`), gathered over a short interval. A process that starts, or that may have
missed events (its subscription lagged, the LISTEN connection came back), asks the others for
their word (`presence.asked`); each answers with all of it (`presence.told`, in parts), which
replaces what was known of that process, and a process that does not answer within
`ANSWER_WITHIN_S` is gone (crashed): its word is dropped. Every process also says it is alive
(`presence.alive`, every `BEAT_EVERY_S` by default), so one that crashed while the others ran is
dropped once it has missed `MISSED_BEATS` beats; a process dropped either way and heard after
all (its relay stalled) makes the one that dropped it ask everyone again. A process shutting
down tells that it holds nobody. When what a process shows changes on another's word in a way
that process did not tell (a snapshot, a process gone, two processes letting go of a user at
once), it tells its own sockets only (the bus's local delivery), so each socket hears each
change once.
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

from veza.events import Event, EventBus, SubscriptionLagged, topic

log = logging.getLogger(__name__)

Status = Literal["online", "away", "offline"]
DEFAULT_AWAY_AFTER_SECONDS = 300.0
# Where the owners of all processes talk: every change of a process's word, asks and answers.
PRESENCE_TOPIC = topic("presence", "all")
# A process that does not answer an ask (or say anything else) in this time is gone.
ANSWER_WITHIN_S = 10.0
# Every process says it is alive this often, on a fixed schedule; one that missed MISSED_BEATS
# beats in a row (silent for 3.5 beats: half a beat of slack for the relay) is gone. A relay
# slower than that for a while costs a re-ask, nothing more.
BEAT_EVERY_S = 10.0
MISSED_BEATS = 3
# Those dropped are remembered this long (seconds) in case they are heard again.
_DROPPED_KEPT_S = 3600.0


def silence_limit(beat_every: float) -> float:
    """How long a process that beats every `beat_every` seconds may be silent before it is
    gone."""
    return (MISSED_BEATS + 0.5) * beat_every


@dataclass(frozen=True)
class PresenceChanged(Event):
    """`status` is the user's presence as the process `origin` shows it (its own sockets and
    the other processes' word); `local` is what its own sockets alone say (its word); `told`
    whether `origin` told `status` to the user's conversations with this change."""

    type: ClassVar[str] = "presence.changed"
    user_id: str
    status: str
    origin: str
    local: str = "offline"
    told: bool = True


@dataclass(frozen=True)
class PresencesChanged(Event):
    """Several users' presence on one conversation's topic, gathered over a short interval
    (`statuses`: [user_id, status] pairs, at most `PRESENCES_PER_EVENT`)."""

    type: ClassVar[str] = "presences.changed"
    statuses: list[list[str]]


@dataclass(frozen=True)
class PresenceAsked(Event):
    """Process `origin` (re)starts its view of the others: each answers with `presence.told`."""

    type: ClassVar[str] = "presence.asked"
    origin: str


@dataclass(frozen=True)
class PresenceTold(Event):
    """All that the sockets of process `origin` say, in parts (`statuses`: [user_id, status]
    pairs of the users online or away there, at most `PRESENCES_PER_EVENT` a part); the `first`
    part replaces whatever was known of that process. An answer to `presence.asked`, or, empty,
    a process that is shutting down."""

    type: ClassVar[str] = "presence.told"
    origin: str
    statuses: list[list[str]]
    first: bool = True


@dataclass(frozen=True)
class PresenceAlive(Event):
    """Process `origin` is running, and says so every `every` seconds: who goes silent has
    crashed. (The interval is carried so that processes configured differently wait for each
    other's beats, not their own.)"""

    type: ClassVar[str] = "presence.alive"
    origin: str
    every: float = BEAT_EVERY_S


# 100 ids of 32 characters and their statuses fit a NOTIFY.
PRESENCES_PER_EVENT = 100
DEFAULT_GATHER_SECONDS = 0.25

_RANK: dict[str, int] = {"offline": 0, "away": 1, "online": 2}


def _interval(value: object) -> float:
    """A beat interval from another process, trusted only within the setting's range."""
    if isinstance(value, int | float) and 0 < value <= 600:
        return float(value)
    return BEAT_EVERY_S


def _status(value: object) -> Status:
    """A status from another process, trusted only if it is one."""
    return value if value in ("online", "away") else "offline"


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
        # The other processes' word: user -> origin -> status, and origin -> its users.
        self._elsewhere: dict[str, dict[str, Status]] = {}
        self._origins: dict[str, set[str]] = {}

    def status(self, user_id: str) -> Status:
        """The user's presence through this process's sockets alone."""
        user = self._users.get(user_id)
        return "offline" if user is None else user.status

    def shown(self, user_id: str) -> Status:
        """The user's presence across processes, as far as they told: the liveliest."""
        return self.shown_with(user_id, self.status(user_id))

    def shown_with(self, user_id: str, local: Status) -> Status:
        """What would be shown if this process's sockets said `local`."""
        best = local
        for status in self._elsewhere.get(user_id, {}).values():
            if _RANK[status] > _RANK[best]:
                best = status
        return best

    def merge(self, user_id: str, origin: str, status: Status) -> None:
        """What the sockets of process `origin` say of a user now."""
        if status == "offline":
            known = self._elsewhere.get(user_id)
            if known is not None and known.pop(origin, None) is not None:
                if not known:
                    del self._elsewhere[user_id]
                users = self._origins[origin]
                users.discard(user_id)
                if not users:
                    del self._origins[origin]
            return
        self._elsewhere.setdefault(user_id, {})[origin] = status
        self._origins.setdefault(origin, set()).add(user_id)

    def drop(self, origin: str) -> list[str]:
        """Forget all of a process's word (it told all of it anew, or it is gone): the users
        it had named."""
        users = self.users_of(origin)
        for user_id in users:
            self.merge(user_id, origin, "offline")
        return users

    def users_of(self, origin: str) -> list[str]:
        """The users a process's word names."""
        return sorted(self._origins.get(origin, ()))

    def origins(self) -> list[str]:
        """The other processes whose word on someone counts here."""
        return sorted(self._origins)

    def word(self) -> list[tuple[str, Status]]:
        """What this process's sockets say: every user online or away here."""
        return sorted(
            (u, user.status) for u, user in self._users.items() if user.status != "offline"
        )

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
        """The changes whose time has come, in deadline order: (user, new status)."""
        return [(user_id, self.status(user_id)) for user_id, _ in self.due_changes(now)]

    def due_changes(self, now: float) -> list[tuple[str, Status]]:
        """The changes whose time has come, in deadline order: (user, status before)."""
        changes: list[tuple[str, Status]] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            when, user_id = heapq.heappop(self._deadlines)
            user = self._users.get(user_id)
            if user is None or user.deadline != when:
                continue  # superseded
            user.deadline = None
            previous = user.status
            if self._settle(user_id, user, now) is not None:
                changes.append((user_id, previous))
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
    kind: Literal[
        "connected", "disconnected", "active", "online", "away", "heard", "asking", "leave", "beat"
    ]
    user_id: str = ""
    event: Event | None = None  # for "heard": what another process said
    done: trio.Event | None = None  # for "leave": set once told


class PresenceOwner:
    """The one task that owns this process' presence state; sockets talk to it through
    `connected`, `disconnected`, `active` and `choose`, the hub through `leave`."""

    def __init__(
        self,
        bus: EventBus,
        audience: Callable[[str], Awaitable[Iterable[str]]],
        *,
        origin: str,
        away_after: float = DEFAULT_AWAY_AFTER_SECONDS,
        offline_grace: float = 10.0,
        queue_size: int = 1024,
        gather: float = DEFAULT_GATHER_SECONDS,
        answer_within: float = ANSWER_WITHIN_S,
        beat_every: float = BEAT_EVERY_S,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        """`audience(user_id)`: the topics that hear the user's presence (their
        conversations'); what they hear is gathered for `gather` seconds."""
        self._bus = bus
        self._audience = audience
        self._origin = origin
        self._state = PresenceState(away_after, offline_grace)
        self._clock = clock
        self._queue_size = queue_size
        self._send, self._receive = trio.open_memory_channel[_Input](queue_size)
        self._left = False  # shutting down: this process's word is no longer told
        # After an ask: until when the others may answer, and those that said something.
        self._answer_within = answer_within
        self._answers_due = math.inf
        self._heard_from: set[str] = set()
        # When each other process was last heard and how often it beats; those dropped as gone
        # (silent, or no answer to an ask), with when.
        self._beat_every = beat_every
        self._last_heard: dict[str, float] = {}
        self._beats: dict[str, float] = {}
        self._dropped: dict[str, float] = {}
        # Per (audience topic, here only), the latest change of each user since the last flush:
        # N people joining a group of N cost N frames per interval, not N² (one per join per
        # member). "Here only" changes go to this process's sockets alone.
        self._gather = gather
        self._gathered: dict[tuple[str, bool], dict[str, PresenceChanged]] = {}
        self._flush_due = trio.Event()

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

    async def leave(self) -> None:
        """The process is shutting down: tell the others it holds nobody (they show its users
        as their own sockets and the remaining processes say), and tell nothing more."""
        done = trio.Event()
        await self._send.send(_Input("leave", done=done))
        await done.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._listen)
            nursery.start_soon(self._flush)
            nursery.start_soon(self._beat)
            task_status.started()
            await self._decide()

    async def _listen(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """What the other processes say, to the owner's queue. On each (re)subscription, the
        others are asked for all of their word: events may have been missed."""
        started = False
        while True:
            try:
                async with self._bus.subscribe(
                    PRESENCE_TOPIC, size=self._queue_size
                ) as subscription:
                    await self._send.send(_Input("asking"))
                    if not started:
                        started = True
                        task_status.started()
                    async for delivery in subscription:
                        event = delivery.event
                        if getattr(event, "origin", self._origin) != self._origin:
                            # Waiting here when the owner is behind: the subscription lags,
                            # and the next one asks again.
                            await self._send.send(_Input("heard", event=event))
            except SubscriptionLagged:
                log.info("presence: events of other processes missed; asking them again")

    async def _beat(self) -> None:
        """A beat to the owner's queue on a fixed schedule (no drift: a beat a sleep late would
        eat into the others' slack); the owner says it is alive and forgets long-gone
        processes (`_take`), so the state stays with its one task."""
        due = trio.current_time()
        while True:
            due += self._beat_every
            await trio.sleep_until(due)
            await self._send.send(_Input("beat"))

    def _forget(self, now: float) -> None:
        """What is kept of processes that named nobody for long, or were dropped long ago."""
        for origin, heard in list(self._last_heard.items()):
            if now - heard > _DROPPED_KEPT_S and not self._state.users_of(origin):
                del self._last_heard[origin]
                self._beats.pop(origin, None)
        for origin, dropped in list(self._dropped.items()):
            if now - dropped > _DROPPED_KEPT_S:
                del self._dropped[origin]

    def _gone_at(self, origin: str) -> float:
        """When a process whose word counts here will have been silent too long."""
        every = max(self._beat_every, self._beats.get(origin, 0.0))
        return self._last_heard.get(origin, -math.inf) + silence_limit(every)

    def _silence_due(self) -> float:
        """The first `_gone_at` of the processes whose word counts here (the others do not
        matter)."""
        return min((self._gone_at(origin) for origin in self._state.origins()), default=math.inf)

    async def _decide(self) -> None:
        state = self._state
        while True:
            deadline = min(
                state.next_deadline() or math.inf, self._answers_due, self._silence_due()
            )
            wait = math.inf if deadline == math.inf else max(0.0, deadline - self._clock())
            with trio.move_on_after(wait):
                got = await self._receive.receive()
                await self._due(self._clock())
                await self._take(got)
                continue
            await self._due(self._clock())

    async def _due(self, now: float) -> None:
        """The deadlines that have come: the state's (away, offline), and the others' answers."""
        state = self._state
        for user_id, previous in state.due_changes(now):
            await self._changed_here(user_id, state.shown_with(user_id, previous))
        if now >= self._answers_due:
            self._answers_due = math.inf
            for origin in state.origins():
                if origin not in self._heard_from:
                    log.info("presence: process %s did not answer; its word is dropped", origin)
                    await self._drop_gone(origin, now)
        for origin in state.origins():
            if now >= self._gone_at(origin):
                log.info("presence: process %s went silent; its word is dropped", origin)
                await self._drop_gone(origin, now)

    async def _drop_gone(self, origin: str, now: float) -> None:
        self._dropped[origin] = now
        await self._drop(origin)

    async def _take(self, got: _Input) -> None:
        state = self._state
        now = self._clock()
        if got.kind == "heard":
            await self._heard(got.event)
            return
        if got.kind == "asking":
            self._ask()
            return
        if got.kind == "beat":
            if not self._left:
                self._publish_on(PRESENCE_TOPIC, PresenceAlive(self._origin, self._beat_every))
            self._forget(now)
            return
        if got.kind == "leave":
            self._left = True
            self._publish_on(PRESENCE_TOPIC, PresenceTold(self._origin, [], first=True))
            if got.done is not None:
                got.done.set()
            return
        if got.kind == "connected":
            shown = state.shown(got.user_id)
            if state.connected(got.user_id, now) is not None:
                await self._changed_here(got.user_id, shown)
        elif got.kind == "disconnected":
            shown = state.shown(got.user_id)
            if state.disconnected(got.user_id, now) is not None:
                await self._changed_here(got.user_id, shown)
        elif got.kind == "active":
            shown = state.shown(got.user_id)
            if state.active(got.user_id, now) is not None:
                await self._changed_here(got.user_id, shown)
        elif got.kind in ("online", "away"):
            shown = state.shown(got.user_id)
            if state.choose(got.user_id, got.kind, now) is not None:
                await self._changed_here(got.user_id, shown)

    def _ask(self) -> None:
        """Ask the others for all of their word; those silent for `answer_within` are gone."""
        self._answers_due = self._clock() + self._answer_within
        self._heard_from = set()
        self._publish_on(PRESENCE_TOPIC, PresenceAsked(self._origin))

    async def _heard(self, event: Event | None) -> None:
        state = self._state
        origin = str(getattr(event, "origin", ""))
        self._heard_from.add(origin)
        self._last_heard[origin] = self._clock()
        if isinstance(event, PresenceAlive):
            self._beats[origin] = _interval(event.every)
        if self._dropped.pop(origin, None) is not None and not self._left:
            # Dropped as gone, yet running (its relay stalled): its word is wanted again.
            log.info("presence: process %s is heard again; asking for everyone's word", origin)
            self._ask()
        if isinstance(event, PresenceAsked):
            # The others answer it too: who does not, from now on, is gone.
            self._answers_due = self._clock() + self._answer_within
            self._heard_from = {origin}
            if not self._left:
                self._answer()
        elif isinstance(event, PresenceTold):
            pairs = [(str(u), _status(s)) for u, s in event.statuses]
            named = {u for u, _ in pairs} | set(state.users_of(origin) if event.first else ())
            before = {u: state.shown(u) for u in named}
            if event.first:
                state.drop(origin)
            for user_id, status in pairs:
                state.merge(user_id, origin, status)
            await self._tell_here(before)
        elif isinstance(event, PresenceChanged):
            user_id = event.user_id
            shown = state.shown(user_id)
            state.merge(user_id, origin, _status(event.local))
            now = state.shown(user_id)
            # What this process's sockets heard: `event.status` if that process told it, else
            # nothing new. When it is not what this process shows, they hear that instead.
            if now != (_status(event.status) if event.told else shown):
                await self._tell(user_id, self._event(user_id, told=False), here=True)

    def _answer(self) -> None:
        word = [[u, s] for u, s in self._state.word()]
        for start in range(0, max(len(word), 1), PRESENCES_PER_EVENT):
            part = word[start : start + PRESENCES_PER_EVENT]
            self._publish_on(PRESENCE_TOPIC, PresenceTold(self._origin, part, first=start == 0))

    async def _drop(self, origin: str) -> None:
        state = self._state
        before = {u: state.shown(u) for u in state.users_of(origin)}
        state.drop(origin)
        await self._tell_here(before)

    async def _tell_here(self, before: dict[str, Status]) -> None:
        """To this process's sockets: the users whose shown presence changed from `before` on
        the word of another process that did not tell it."""
        for user_id, shown in sorted(before.items()):
            if self._state.shown(user_id) != shown:
                await self._tell(user_id, self._event(user_id, told=False), here=True)

    def _event(self, user_id: str, *, told: bool) -> PresenceChanged:
        state = self._state
        return PresenceChanged(
            user_id, state.shown(user_id), self._origin, state.status(user_id), told
        )

    async def _changed_here(self, user_id: str, shown: Status) -> None:
        """This process's sockets say something new of the user (`shown`: what this process
        showed before): the others hear it at once; the user's conversations hear it when what
        this process shows changed."""
        if self._left:
            return
        state = self._state
        now = state.shown(user_id)
        told = now != shown
        event = self._event(user_id, told=told)
        self._publish_on(PRESENCE_TOPIC, event)
        if told:
            await self._tell(user_id, event, here=False)

    async def _tell(self, user_id: str, event: PresenceChanged, *, here: bool) -> None:
        """Gathered for the user's conversations' topics: to every process's sockets, or
        (`here`) to this process's alone."""
        try:
            audience = await self._audience(user_id)
        except Exception:
            log.exception("presence of user %s: cannot list who hears it", user_id)
            return
        for name in audience:
            self._gathered.setdefault((name, here), {})[user_id] = event
            if not here:  # this reaches the sockets here too: an older local word is stale
                self._gathered.get((name, True), {}).pop(user_id, None)
        self._flush_due.set()

    async def _flush(self) -> None:
        """Every `gather` seconds while changes wait: per topic, the one change as it is
        (a `presence` frame), or the changes in `presences.changed` events. Topics that heard
        the same changes get the same event objects, so a socket on several of them sends
        them once (it skips an event it just sent)."""
        while True:
            await self._flush_due.wait()
            await trio.sleep(self._gather)
            self._flush_due = trio.Event()
            gathered, self._gathered = self._gathered, {}
            built: dict[tuple[frozenset[int], bool], list[Event]] = {}
            # What every process's sockets hear first, then what this one's alone hear (newer
            # than what the first may say of the same user: see `_tell`).
            for (name, here), changes in sorted(gathered.items(), key=lambda item: item[0][1]):
                if not changes:
                    continue
                key = (frozenset(id(e) for e in changes.values()), here)
                events = built.get(key)
                if events is None:
                    events = built[key] = _events_of(list(changes.values()))
                for event in events:
                    if here:
                        self._bus.deliver(name, event)
                    else:
                        self._publish_on(name, event)

    def _publish_on(self, name: str, event: Event) -> None:
        try:
            self._bus.publish(name, event)
        except Exception:  # the relay refused it: presence goes on
            log.exception("presence not published on %s", name)


def _events_of(changes: list[PresenceChanged]) -> list[Event]:
    if len(changes) == 1:
        return [changes[0]]
    pairs = [[c.user_id, c.status] for c in changes]
    return [
        PresencesChanged(pairs[start : start + PRESENCES_PER_EVENT])
        for start in range(0, len(pairs), PRESENCES_PER_EVENT)
    ]
