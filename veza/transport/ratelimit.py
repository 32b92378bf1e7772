"""Leaky-bucket rate limits: the auth routes, keyed by client address and by account; chat
sends and typing, keyed by user (shared by the REST routes and the WebSocket).

Each bucket is a level that drains at `rate` per second, computed lazily when the key is next
seen: no timers, no periodic task. The number of tracked keys is capped; the least recently
seen keys go first, and those have usually drained anyway.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from veza.config import Settings
from veza.errors import RateLimited


@dataclass
class _Bucket:
    level: float
    updated: float


class LeakyBucket:
    """Allows `burst` requests at once, then one more every 1/rate seconds."""

    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> None:
        """Count one request for `key`, or raise RateLimited with the wait until one fits."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        level = 0.0
        if bucket is not None:
            # A clock set back (the wall clock the server passes in) drains nothing, never fills.
            elapsed = max(0.0, now - bucket.updated)
            level = max(0.0, bucket.level - elapsed * self.rate)
        allowed = level + 1 <= self.burst
        if allowed:
            level += 1
        if level > 0:
            self._buckets[key] = _Bucket(level, now)  # re-inserted last: most recently seen
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        if not allowed:
            raise RateLimited((level + 1 - self.burst) / self.rate)


class AuthLimits:
    """Three buckets for each guarded action: per client address; per account and address,
    the tight one, so a client hammering an account slows only itself and the owner elsewhere
    is not locked out; and per account from everywhere, looser, against distributed guessing."""

    ACTIONS = ("login", "register", "refresh", "password_reset", "password_change")

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        def buckets(per_minute: float, burst: int) -> dict[str, LeakyBucket]:
            return {
                action: LeakyBucket(
                    rate_per_second=per_minute / 60,
                    burst=burst,
                    max_keys=settings.rate_limit_max_keys,
                    clock=clock,
                )
                for action in self.ACTIONS
            }

        s = settings
        self._address = buckets(s.auth_rate_address_per_minute, s.auth_rate_address_burst)
        self._pair = buckets(s.auth_rate_account_per_minute, s.auth_rate_account_burst)
        self._account = buckets(
            s.auth_rate_account_total_per_minute, s.auth_rate_account_total_burst
        )

    def check(self, action: str, *, address: str, account: str | None) -> None:
        """Raise RateLimited when any bucket is full. Checked in order, so a request refused by
        a tighter bucket never drains the account-wide one."""
        self.check_address(action, address)
        if account:
            self.check_account(action, address=address, account=account)

    def check_address(self, action: str, address: str) -> None:
        """The first half of `check`, for a route that learns the account only later."""
        self._address[action].take(address)

    def check_account(self, action: str, *, address: str, account: str) -> None:
        """The second half of `check`: the pair bucket, then the account-wide one."""
        self._pair[action].take(f"{account}\x00{address}")
        self._account[action].take(account)


class ChatRateLimits:
    """Per user and per process: message sends (REST and WebSocket share one bucket) and
    typing frames. A refusal is RateLimited with `retry_after`: a 429 over HTTP, an `error`
    frame on a socket."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = LeakyBucket(
            rate_per_second=settings.chat_send_per_minute / 60,
            burst=settings.chat_send_burst,
            max_keys=settings.rate_limit_max_keys,
            clock=clock,
        )
        self._typing = LeakyBucket(
            rate_per_second=settings.chat_typing_per_minute / 60,
            burst=settings.chat_typing_burst,
            max_keys=settings.rate_limit_max_keys,
            clock=clock,
        )

    def send(self, user_id: str) -> None:
        """Count one message (a send; an edit counts too), or raise RateLimited."""
        self._send.take(user_id)

    def typing(self, user_id: str) -> None:
        """Count one typing frame, or raise RateLimited."""
        self._typing.take(user_id)
