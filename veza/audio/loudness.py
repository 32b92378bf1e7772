"""Loudness per ITU-R BS.1770-4 / EBU R128 (gated integrated LUFS, true peak) and track gain."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import soxr

F64 = npt.NDArray[np.float64]

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_OFFSET = -0.691  # BS.1770 makes a 997 Hz sine read its RMS level through K-weighting
_IMPULSE_LENGTH = 1 << 13  # the RLB pole (~0.995) has decayed below 1e-17 by then
_FFT_GRAIN = 1 << 13  # FFT sizes are multiples of this: cheap for pocketfft, few cached spectra
_OVERSAMPLING = 4


def k_weighting(sample_rate: int) -> tuple[tuple[float, ...], ...]:
    """(b, a) of the two K-weighting biquads at `sample_rate`.

    BS.1770 lists coefficients for 48 kHz only; these are the analogue prototypes they come from
    (as in libebur128), so the filter is the same at any rate.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = (
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    )
    shelf_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    hp_b = (1.0, -2.0, 1.0)
    hp_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0)
    return shelf_b, shelf_a, hp_b, hp_a


def _biquad(b: tuple[float, ...], a: tuple[float, ...], x: F64) -> F64:
    y = np.zeros_like(x)
    x1 = x2 = y1 = y2 = 0.0
    for n, xn in enumerate(x.tolist()):
        yn = b[0] * xn + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
        y[n] = yn
        x2, x1, y2, y1 = x1, xn, y1, yn
    return y


@lru_cache(maxsize=4)
def _k_response(sample_rate: int) -> F64:
    """The K-weighting impulse response, as the spectrum an FFT convolution multiplies by.

    numpy has no IIR filter and a Python loop per sample is far too slow, so the (decaying)
    impulse response is applied as a long FIR by overlap-add.
    """
    shelf_b, shelf_a, hp_b, hp_a = k_weighting(sample_rate)
    impulse = np.zeros(_IMPULSE_LENGTH)
    impulse[0] = 1.0
    return _biquad(hp_b, hp_a, _biquad(shelf_b, shelf_a, impulse))


@lru_cache(maxsize=16)
def _k_spectrum(sample_rate: int, size: int) -> npt.NDArray[np.complex128]:
    return np.fft.rfft(_k_response(sample_rate), size)[:, None]


class _KFilter:
    """Overlap-add FFT convolution with the K-weighting impulse response, block by block."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self._rate = sample_rate
        self._tail = np.zeros((_IMPULSE_LENGTH - 1, channels))

    def process(self, x: F64) -> F64:
        n = len(x)
        full_length = n + _IMPULSE_LENGTH - 1
        size = -(-full_length // _FFT_GRAIN) * _FFT_GRAIN
        spectrum = _k_spectrum(self._rate, size)
        full = np.fft.irfft(np.fft.rfft(x, size, axis=0) * spectrum, size, axis=0)[:full_length]
        full[: _IMPULSE_LENGTH - 1] += self._tail
        self._tail = full[n:].copy()
        return full[:n]


class LoudnessMeter:
    """Feed (frames, channels) blocks in order; read integrated loudness and true peak any time.

    Gating blocks are 400 ms with 75% overlap, built from 100 ms sums of the K-weighted power,
    so only those sums (ten per second) are kept whatever the length. Channel weights are 1
    (left, right: we measure the stereo signal we serve).
    """

    def __init__(self, sample_rate: int, channels: int = 2) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._filter = _KFilter(sample_rate, channels)
        self._step = round(sample_rate / 10)
        self._carry = np.zeros((0, channels))
        self._step_power: list[F64] = []
        self._oversampler = soxr.ResampleStream(
            sample_rate, sample_rate * _OVERSAMPLING, channels, dtype="float32", quality="HQ"
        )
        self._peak = 0.0
        self.frames = 0

    def feed(self, block: npt.NDArray[np.floating]) -> None:
        self.feed_loudness(block)
        self.feed_peak(block)

    def feed_loudness(self, block: npt.NDArray[np.floating]) -> None:
        """The gated-loudness half of `feed`; it shares no state with `feed_peak`, so the two
        may run in different threads at once (each in order)."""
        block = np.asarray(block).reshape(-1, self.channels)
        if len(block) == 0:
            return
        self.frames += len(block)
        weighted = self._filter.process(block.astype(np.float64))
        squares = np.concatenate([self._carry, weighted * weighted])
        whole = len(squares) - len(squares) % self._step
        if whole:
            sums = squares[:whole].reshape(-1, self._step, self.channels).sum(axis=1)
            self._step_power.append(sums)
        self._carry = squares[whole:]

    def feed_peak(self, block: npt.NDArray[np.floating]) -> None:
        """The true-peak half of `feed`."""
        samples = np.asarray(block, dtype=np.float32).reshape(-1, self.channels)
        self._track_peak(samples, last=False)

    def _track_peak(self, block: npt.NDArray[np.float32], *, last: bool) -> None:
        up = self._oversampler.resample_chunk(np.ascontiguousarray(block), last=last)
        for samples in (block, up):
            if len(samples):
                self._peak = max(self._peak, float(np.max(np.abs(samples))))

    def finish(self) -> None:
        """Flush the oversampler (its last output samples belong to the end of the signal)."""
        self._track_peak(np.zeros((0, self.channels), dtype=np.float32), last=True)

    def block_loudness(self) -> F64:
        """Loudness (LUFS) of every complete 400 ms gating block so far."""
        power = self._block_power()
        with np.errstate(divide="ignore"):
            loudness: F64 = _OFFSET + 10.0 * np.log10(power)
        return loudness

    def _block_power(self) -> F64:
        if not self._step_power:
            return np.zeros(0)
        steps = np.concatenate(self._step_power).sum(axis=1)
        if len(steps) < 4:
            return np.zeros(0)
        window = steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]
        power: F64 = window / (4 * self._step)
        return power

    def integrated(self) -> float | None:
        """Gated integrated loudness in LUFS; None when nothing passes the absolute gate."""
        power = self._block_power()
        with np.errstate(divide="ignore"):
            loudness = _OFFSET + 10.0 * np.log10(power)
        gated = power[loudness > ABSOLUTE_GATE_LUFS]
        if len(gated) == 0:
            return None
        relative = _OFFSET + 10.0 * math.log10(float(gated.mean())) + RELATIVE_GATE_LU
        gated = power[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative)]
        return _OFFSET + 10.0 * math.log10(float(gated.mean()))

    def true_peak(self) -> float:
        """Linear true-peak estimate (4x oversampled, never below the sample peak)."""
        return self._peak

    def true_peak_dbtp(self) -> float | None:
        return 20.0 * math.log10(self._peak) if self._peak > 0 else None


def track_gain(
    integrated_lufs: float | None,
    true_peak_dbtp: float | None,
    *,
    target_lufs: float = -14.0,
    ceiling_dbtp: float = -1.0,
) -> float:
    """Gain (dB) bringing the track towards `target_lufs` without its true peak passing the
    ceiling. Silence (no gated loudness) gets 0 dB: there is nothing to normalise."""
    if integrated_lufs is None:
        return 0.0
    gain = target_lufs - integrated_lufs
    if true_peak_dbtp is not None:
        gain = min(gain, ceiling_dbtp - true_peak_dbtp)
    return gain
