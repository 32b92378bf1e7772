"""Waveform peaks for drawing: min/max pairs at a fixed stride plus per-second summaries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

_DECIMALS = 4
Row = tuple[float, float, float]  # min, max, mean power


class WaveformBuilder:
    """Feed (frames, channels) blocks in order; `to_json` gives the peaks over all channels.

    The stride is fixed up front from the expected length (about `points` pairs), so nothing
    grows but the output itself.
    """

    def __init__(
        self, sample_rate: int, *, expected_frames: int | None, points: int = 1000
    ) -> None:
        self.sample_rate = sample_rate
        expected = expected_frames if expected_frames and expected_frames > 0 else sample_rate * 300
        self.stride = max(1, math.ceil(expected / points))
        self._pairs = _Reducer(self.stride, power=False)  # drawn as min/max only
        self._seconds = _Reducer(sample_rate, power=True)
        self.frames = 0

    def feed(self, block: npt.NDArray[np.floating]) -> None:
        samples = np.asarray(block, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        samples = np.ascontiguousarray(samples)
        self.frames += len(samples)
        self._pairs.feed(samples)
        self._seconds.feed(samples)

    def to_json(self, gain: float = 1.0) -> dict[str, Any]:
        """Peaks scaled by `gain` (the linear gain applied to the renditions)."""

        def scaled(rows: list[Row], rms: bool) -> list[list[float]]:
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
    """min, max and mean power over consecutive windows of `size` frames (all channels).
    Without `power` the power column is 0: its float64 sum of squares was a third of the
    waveform's CPU, for a column the peaks never show."""

    def __init__(self, size: int, *, power: bool) -> None:
        self.size = size
        self._with_power = power
        self._rows: list[Row] = []
        self._low = math.inf
        self._high = -math.inf
        self._power = 0.0
        self._count = 0  # frames in the open window
        self._channels = 1

    def feed(self, samples: npt.NDArray[np.float32]) -> None:
        n, start = len(samples), 0
        self._channels = samples.shape[1]
        if self._count:  # complete the open window first
            start = min(self.size - self._count, n)
            self._absorb(samples[:start])
            if self._count == self.size:
                self._close()
        whole = (n - start) // self.size * self.size
        if whole:
            # Frames are contiguous rows, so a window of frames is one flat row: fast reductions.
            windows = samples[start : start + whole].reshape(whole // self.size, -1)
            if self._with_power:
                powers = np.einsum("ij,ij->i", windows, windows, dtype=np.float64)
                powers /= windows.shape[1]
            else:
                powers = np.zeros(len(windows))
            self._rows.extend(
                zip(
                    windows.min(axis=1).tolist(),
                    windows.max(axis=1).tolist(),
                    powers.tolist(),
                    strict=True,
                )
            )
            start += whole
        if start < n:
            self._absorb(samples[start:])

    def _absorb(self, samples: npt.NDArray[np.float32]) -> None:
        if len(samples) == 0:
            return
        self._low = min(self._low, float(samples.min()))
        self._high = max(self._high, float(samples.max()))
        if self._with_power:
            self._power += float(np.einsum("ij,ij->", samples, samples, dtype=np.float64))
        self._count += len(samples)

    def _close(self) -> None:
        self._rows.append(self._row())
        self._low, self._high, self._power, self._count = math.inf, -math.inf, 0.0, 0

    def _row(self) -> Row:
        return (self._low, self._high, self._power / (self._count * self._channels))

    def rows(self) -> list[Row]:
        """Closed windows plus the open one (a shorter last window)."""
        return [*self._rows, self._row()] if self._count else list(self._rows)
