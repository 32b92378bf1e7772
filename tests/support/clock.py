"""Virtual wall-clock time: a clock that stands still until a test moves it."""

from __future__ import annotations

import time


class Clock:
    """Seconds since the epoch, like `time.time`, that change only through `advance`.

    Starts at a whole second (now, unless told otherwise), so that steps exact in binary
    (whole seconds, halves, quarters) land exactly on the second boundaries expiry is counted
    in; a step like 0.1 would leave the clock a rounding error either side of one."""

    def __init__(self, start: float | None = None) -> None:
        self._now = float(int(time.time())) if start is None else start

    def now(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds
