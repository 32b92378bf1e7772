"""True peak: the largest magnitude of the signal oversampled 4x (BS.1770-4 Annex 2), computed
only where it can exceed the peak already found.

The oversampling is a polyphase FIR of our own: each of the three points between two samples
is a weighted sum of the `REACH` samples on either side (a Kaiser-windowed sinc; the fourth
phase is the sample itself, so the true peak is never below the sample peak). Its length and
window were chosen against FFmpeg's `ebur128=peak=true`: within 0.05 dB on music, noise, an
inter-sample over and clipped noise, where 8 samples a side read clipped noise 0.4-1 dB low
(tests/audio/test_loudness_reference.py). Being linear and
short, it gives an exact bound for every chunk of positions before computing any of it:

    y = lin + q * D2(x) + r . x

where `lin` is the linear interpolation between the two nearest samples (never larger than
they are), D2(x) the second difference of the samples (small wherever the signal is smooth,
as music mostly is) and `q`, `r` what the filter adds to linear interpolation, written on that
basis (a polynomial division; `r` is a rounding-sized remainder). So a chunk's interpolated
values are at most  (1 + |r|_1) max|x| + |q|_1 max|D2(x)|  over the samples it reaches; a
chunk whose bound is not above the running peak cannot raise it and is skipped. That is not an
approximation: skipping changes nothing in the result (tests/audio/test_truepeak.py checks it
against computing every chunk), it only saves computing chunks far below the loudest ones
(on the benchmark's track, 552 of 51,680 chunks are computed).

The chunks that are computed go through small matrix products (a run of `_ROW` positions is
one row of `_ROW + 2 * REACH - 1` samples times a banded matrix of the three phases' taps),
grouped under OpenBLAS's threading threshold (veza.audio.iir.product_in_calling_thread).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from veza.audio.iir import product_in_calling_thread

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

OVERSAMPLING = 4
REACH = 12  # input samples on each side of an interpolated point
_KAISER_BETA = 5.0
CHUNK = 256  # positions per bound (a multiple of _ROW)
_ROW = 32  # positions per row of the matrix product
_SPAN = _ROW + 2 * REACH - 1  # samples per row
_TAPS = 2 * REACH
# Rounding: float32 products and differences may land a few ulps above the real-number
# bound; this margin (in units of the chunk's sample peak) keeps the bound above them.
_ROUNDING = 1e-4


def interpolator(reach: int = REACH, beta: float = _KAISER_BETA) -> F64:
    """(2 * reach, 3) taps: column p - 1 gives the point p/4 of the way from sample n to n + 1,
    from samples n - reach + 1 .. n + reach."""
    offsets = np.arange(-reach + 1, reach + 1, dtype=np.float64)
    taps = np.empty((2 * reach, OVERSAMPLING - 1))
    for p in range(1, OVERSAMPLING):
        t = offsets - p / OVERSAMPLING
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (t / reach) ** 2, 0.0, None))) / np.i0(beta)
        taps[:, p - 1] = np.sinc(t) * window
    return taps


def bound_factors(taps: F64) -> tuple[float, float]:
    """(a, b) such that every interpolated point is at most a max|x| + b max|D2(x)| over the
    samples its taps reach (see the module's docstring)."""
    reach = len(taps) // 2
    a, b = 0.0, 0.0
    for p in range(taps.shape[1]):
        linear = np.zeros(len(taps))
        fraction = (p + 1) / OVERSAMPLING
        linear[reach - 1], linear[reach] = 1.0 - fraction, fraction
        q, r = np.polydiv(taps[:, p] - linear, np.array([1.0, -2.0, 1.0]))
        a = max(a, 1.0 + float(np.abs(r).sum()))
        b = max(b, float(np.abs(q).sum()))
    return a + _ROUNDING, b


def _banded(taps: F64) -> F32:
    """The (_SPAN, 3 * _ROW) matrix taking a row of samples to its _ROW positions' 3 points."""
    matrix = np.zeros((_SPAN, 3 * _ROW), dtype=np.float32)
    for i in range(_ROW):
        matrix[i : i + _TAPS, 3 * i : 3 * i + 3] = taps
    return matrix


_TAPS_MATRIX = interpolator()
_A, _B = bound_factors(_TAPS_MATRIX)
# The plain bound, max|x| times the largest sum of a phase's absolute taps: looser (about
# 2.2 max|x|), but it needs no second difference, so it screens chunks first.
_L1 = float(np.abs(_TAPS_MATRIX).sum(axis=0).max()) + _ROUNDING
_BANDED = _banded(_TAPS_MATRIX)


class TruePeak:
    """Feed (frames, channels) blocks in order; `peak` is the linear true peak so far, final
    after `finish`.

    Samples are kept interleaved as they come; a chunk is bounded over all its channels at
    once (a bound for each), and a chunk that may matter is computed in every channel.
    `prune=False` computes every chunk: the reference the pruning is tested against.
    """

    def __init__(self, channels: int, *, prune: bool = True) -> None:
        self.channels = channels
        self.prune = prune
        self.peak = 0.0
        self.chunks = 0  # chunks bounded, and computed (each in every channel)
        self.computed = 0
        # Zeros before the first sample: the first position lies just before it.
        self._carry = np.zeros((REACH, channels), dtype=np.float32)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._second = np.zeros(0, dtype=np.float32)

    def feed(self, block: npt.NDArray[np.floating]) -> None:
        samples = np.asarray(block, dtype=np.float32).reshape(-1, self.channels)
        if len(samples):
            self._process(samples, last=False)

    def finish(self) -> None:
        """The positions up to the last sample's ringing (zeros follow the signal)."""
        self._process(np.zeros((0, self.channels), dtype=np.float32), last=True)

    def _process(self, samples: F32, *, last: bool) -> None:
        held = len(self._carry)
        length = held + len(samples)
        if last:  # zeros after the signal: every position that reaches a sample, in whole chunks
            length = held + _TAPS + (-(held + 1) % CHUNK)
        size = self.channels * length
        if len(self._buffer) < size:
            self._buffer = np.empty(size, dtype=np.float32)
            self._second = np.empty(size, dtype=np.float32)
        frames = self._buffer[:size].reshape(length, self.channels)
        frames[:held] = self._carry
        frames[held : held + len(samples)] = samples
        frames[held + len(samples) :] = 0.0
        chunks = (length - (_TAPS - 1)) // CHUNK
        if chunks > 0:
            self._chunks(self._buffer[:size], chunks)
        self._carry = frames[chunks * CHUNK :].copy()

    def _chunks(self, flat: F32, chunks: int) -> None:
        """Positions 0 .. chunks * CHUNK of the interleaved samples `flat`: position k lies
        between frames k + REACH - 1 and k + REACH, and is computed from frames k .. k + 2 *
        REACH - 1."""
        channels = self.channels
        self.chunks += chunks
        cell = CHUNK * channels
        magnitude = _magnitudes(flat, chunks, cell)
        self.peak = max(self.peak, float(magnitude.max()))  # the samples themselves
        # Each chunk's positions reach 2 * REACH - 1 frames into the next chunk.
        sample_bound = np.maximum(
            magnitude, _magnitudes(flat[cell:], chunks, cell, (_TAPS - 1) * channels)
        )
        if not self.prune:
            self._compute(flat, np.arange(chunks))
            return
        candidates = np.flatnonzero(_L1 * sample_bound > self.peak)
        if len(candidates) == 0:
            return
        second = self._second_difference(flat)
        smooth = np.maximum(
            _magnitudes(second, chunks, cell),
            _magnitudes(second[cell:], chunks, cell, (_TAPS - 3) * channels),
        )
        bound = _A * sample_bound + _B * smooth
        candidates = candidates[bound[candidates] > self.peak]
        # Loudest bound first, in batches that double: the first few usually raise the running
        # peak past most of the rest.
        candidates = candidates[np.argsort(-bound[candidates], kind="stable")]
        done, batch = 0, 1
        while done < len(candidates):
            picked = candidates[done : done + batch]
            done, batch = done + len(picked), batch * 2
            picked = picked[bound[picked] > self.peak]
            if len(picked):
                self._compute(flat, picked)

    def _compute(self, flat: F32, chunks: npt.NDArray[np.intp]) -> None:
        """The interpolated points of `chunks` (indices) in every channel, into the peak."""
        self.computed += len(chunks)
        channels = self.channels
        # Row starts, in frames: each chunk's _ROW-position runs.
        starts = (chunks * CHUNK)[:, None] + np.arange(0, CHUNK, _ROW)
        offsets = (starts.reshape(-1, 1) + np.arange(_SPAN)) * channels
        for channel in range(channels):
            rows = flat[offsets + channel]
            points = np.empty((len(rows), 3 * _ROW), dtype=np.float32)
            product_in_calling_thread(rows, _BANDED, points)
            self.peak = max(self.peak, float(points.max()), -float(points.min()))

    def _second_difference(self, flat: F32) -> F32:
        """x[t] - 2 x[t + 1] + x[t + 2] in each channel (interleaved as `flat`), in a buffer
        kept from block to block; zeros past the last."""
        step = self.channels
        out = self._second[: len(flat)]
        second = out[: len(flat) - 2 * step]
        np.add(flat[2 * step :], flat[: -2 * step], out=second)
        second -= flat[step:-step]
        second -= flat[step:-step]
        out[len(flat) - 2 * step :] = 0.0
        return out

    def true_peak_dbtp(self) -> float | None:
        return 20.0 * math.log10(self.peak) if self.peak > 0 else None


def _magnitudes(values: F32, chunks: int, cell: int, count: int | None = None) -> F64:
    """max |value| over the first `count` (default: all) of each run of `cell` values."""
    count = cell if count is None else count
    runs = as_strided(
        values,
        shape=(chunks, count),
        strides=(cell * values.itemsize, values.itemsize),
        writeable=False,
    )
    out: F64 = np.maximum(runs.max(axis=1), -runs.min(axis=1)).astype(np.float64)
    return out
