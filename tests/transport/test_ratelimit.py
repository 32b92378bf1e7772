"""The leaky bucket with a clock we move by hand: burst, drain, Retry-After, bounded state."""

from __future__ import annotations

import pytest

from tests.support.clock import Clock
from veza.errors import RateLimited
from veza.transport.ratelimit import LeakyBucket


def test_burst_then_one_per_interval_with_retry_after() -> None:
    clock = Clock(1000.0)
    bucket = LeakyBucket(rate_per_second=0.5, burst=3, max_keys=10, clock=clock)
    for _ in range(3):
        bucket.take("k")
    with pytest.raises(RateLimited) as refused:
        bucket.take("k")
    assert refused.value.retry_after == 2  # one request drains in 1 / 0.5 s
    assert refused.value.headers["Retry-After"] == "2"
    clock.advance(1.9)
    with pytest.raises(RateLimited):
        bucket.take("k")
    clock.advance(0.1)
    bucket.take("k")
    with pytest.raises(RateLimited):
        bucket.take("k")


def test_refused_requests_do_not_fill_the_bucket_further() -> None:
    clock = Clock(1000.0)
    bucket = LeakyBucket(rate_per_second=1, burst=1, max_keys=10, clock=clock)
    bucket.take("k")
    for _ in range(100):
        with pytest.raises(RateLimited):
            bucket.take("k")
    clock.advance(1)
    bucket.take("k")  # hammering did not push the wait out


def test_keys_are_independent() -> None:
    bucket = LeakyBucket(rate_per_second=1, burst=1, max_keys=10, clock=Clock(1000.0))
    bucket.take("a")
    bucket.take("b")
    with pytest.raises(RateLimited):
        bucket.take("a")


def test_tracked_keys_are_capped_least_recently_seen_first() -> None:
    clock = Clock(1000.0)
    bucket = LeakyBucket(rate_per_second=0.001, burst=1, max_keys=100, clock=clock)
    bucket.take("victim")
    for i in range(1000):
        bucket.take(f"key{i}")
    assert len(bucket) == 100
    bucket.take("victim")  # forgotten, so admitted again: the cap bounds memory, not fairness
    with pytest.raises(RateLimited):
        bucket.take("key999")  # the most recent keys are still tracked


def test_a_clock_set_back_drains_nothing_and_fills_nothing() -> None:
    # The server passes the wall clock, which an operator or NTP may step backwards.
    now = [1000.0]
    bucket = LeakyBucket(rate_per_second=1, burst=2, max_keys=10, clock=lambda: now[0])
    bucket.take("k")
    bucket.take("k")
    now[0] = 400.0
    with pytest.raises(RateLimited) as refused:
        bucket.take("k")
    assert refused.value.retry_after == 1  # not 600 s more for the step back
    now[0] = 401.0
    bucket.take("k")
