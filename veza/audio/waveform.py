"""Waveform peaks for drawing: min/max pairs at a fixed stride plus per-second summaries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

_DECIMALS = 4


class WaveformBuilder:
    """Feed (frames, channels) blocks in order; `to_json` gives the peaks of both channels.

    The stride is fixed up front from the expected length (about `points` pairs), so nothing
    grows but the output itself.
    """

    def __init__(
        self, sample_rate: int, *, expected_frames: int | None, points: int = 1000
    ) -> None:
        self.sample_rate = sample_rate
        expected = expected_frames if expected_frames and expected_frames > 0 else sample_rate * 300
        self.stride = max(1, math.ceil(expected / points))
        self._pairs = _Reducer(self.stride)
        self._seconds = _Reducer(sample_rate)
        self.frames = 0

    def feed(self, block: npt.NDArray[np.floating]) -> None:
        samples = np.asarray(block, dtype=np.float32)
        if samples.ndim == 2:
            # Per frame, the extremes over channels: what a stereo waveform is drawn from.
            low, high = samples.min(axis=1), samples.max(axis=1)
            power = np.mean(np.square(samples, dtype=np.float64), axis=1)
        else:
            low = high = samples
            power = np.square(samples, dtype=np.float64)
        self.frames += len(samples)
        self._pairs.feed(low, high, power)
        self._seconds.feed(low, high, power)

    def to_json(self, gain: float = 1.0) -> dict[str, Any]:
        """Peaks scaled by `gain` (the linear gain applied to the renditions)."""

        def scaled(rows: list[tuple[float, float, float]], rms: bool) -> list[list[float]]:
            out = []
            for low, high, power in rows:
                row = [round(low * gain, _DECIMALS), round(high * gain, _DECIMALS)]
                if rms:
                    row.append(round(math.sqrt(power) * gain, _DECIMALS))
                out.append(row)
            return out

        return {
            "version": 1,
            "sample_rate": self.sample_rate,
            "frames": self.frames,
            "samples_per_peak": self.stride,
            "peaks": scaled(self._pairs.rows(), rms=False),
            "seconds": scaled(self._seconds.rows(), rms=True),
        }


class _Reducer:
    """min, max and mean power over consecutive windows of `size` frames."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: list[tuple[float, float, float]] = []
        self._low = math.inf
        self._high = -math.inf
        self._power = 0.0
        self._count = 0

    def feed(self, low: npt.NDArray[np.float32], high: npt.NDArray[np.float32],
             power: npt.NDArray[np.float64]) -> None:
        start = 0
        n = len(low)
        if self._count:  # complete the open window first
            take = min(self.size - self._count, n)
            self._absorb(low[:take], high[:take], power[:take])
            start = take
            if self._count == self.size:
                self._close()
        whole = (n - start) // self.size * self.size
        if whole:
            shape = (-1, self.size)
            lows = low[start : start + whole].reshape(shape).min(axis=1)
            highs = high[start : start + whole].reshape(shape).max(axis=1)
            powers = power[start : start + whole].reshape(shape).mean(axis=1)
            self._rows.extend(zip(lows.tolist(), highs.tolist(), powers.tolist(), strict=True))
            start += whole
        if start < n:
            self._absorb(low[start:], high[start:], power[start:])

    def _absorb(self, low: npt.NDArray[np.float32], high: npt.NDArray[np.float32],
                power: npt.NDArray[np.float64]) -> None:
        if len(low) == 0:
            return
        self._low = min(self._low, float(low.min()))
        self._high = max(self._high, float(high.max()))
        self._power += float(power.sum())
        self._count += len(low)

    def _close(self) -> None:
        self._rows.append((self._low, self._high, self._power / self._count))
        self._low, self._high, self._power, self._count = math.inf, -math.inf, 0.0, 0

    def rows(self) -> list[tuple[float, float, float]]:
        """Closed windows plus the open one (a shorter last window)."""
        if self._count:
            return [*self._rows, (self._low, self._high, self._power / self._count)]
        return list(self._rows)
