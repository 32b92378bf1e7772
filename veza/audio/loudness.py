"""Loudness per ITU-R BS.1770-4 / EBU R128 (gated integrated LUFS, true peak) and track gain."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from veza.audio.iir import BlockFilter
from veza.audio.truepeak import TruePeak

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_OFFSET = -0.691  # BS.1770 makes a 997 Hz sine read its RMS level through K-weighting


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


def k_weighting_sos(sample_rate: int) -> F64:
    """The two K-weighting biquads as second-order sections (rows b0 b1 b2 a0 a1 a2)."""
    shelf_b, shelf_a, hp_b, hp_a = k_weighting(sample_rate)
    return np.array([[*shelf_b, *shelf_a], [*hp_b, *hp_a]], dtype=np.float64)


class LoudnessMeter:
    """Feed (frames, channels) blocks in order; read integrated loudness and true peak any time.

    K-weighting is the IIR filter itself, its state carried from block to block
    (veza.audio.iir), computed in float64 on the float32 samples (in float32 the filter read
    infrasonic tones up to 0.02 LU off, for about 10% less CPU). Gating blocks are 400 ms with
    75% overlap, built from 100 ms sums of the K-weighted power, so only those sums (ten per
    second) are kept whatever the length. Channel weights are 1 (left, right: we measure the
    stereo signal we serve).
    """

    def __init__(self, sample_rate: int, channels: int = 2) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._filter = BlockFilter(k_weighting_sos(sample_rate), channels)
        self._step = round(sample_rate / 10)
        self._carry: F64 = np.zeros(0)
        self._power: F64 = np.zeros(0)
        self._step_power: list[F64] = []
        self._true_peak = TruePeak(channels)
        self.frames = 0

    def feed(self, block: npt.NDArray[np.floating]) -> None:
        self.feed_loudness(block)
        self.feed_peak(block)

    def feed_loudness(self, block: npt.NDArray[np.floating]) -> None:
        """The gated-loudness half of `feed`; it shares no state with `feed_peak`, so the two
        may run in different threads at once (each in order)."""
        samples = np.asarray(block).reshape(-1, self.channels)
        if len(samples) == 0:
            return
        self.frames += len(samples)
        # Channels as rows (the filter's float64 copy is made in that layout), so the squares
        # and the sum over channels run over contiguous rows; the filter's output and the power
        # are buffers kept from block to block.
        weighted = self._filter.process(samples.T)
        np.square(weighted, out=weighted)
        held = len(self._carry)
        total = held + len(samples)
        if len(self._power) < total:
            self._power = np.empty(total)
        power = self._power[:total]
        power[:held] = self._carry
        weighted.sum(axis=0, out=power[held:])
        whole = total - total % self._step
        if whole:
            self._step_power.append(power[:whole].reshape(-1, self._step).sum(axis=1))
        self._carry = power[whole:].copy()

    def feed_peak(self, block: npt.NDArray[np.floating]) -> None:
        """The true-peak half of `feed` (veza.audio.truepeak)."""
        self._true_peak.feed(block)

    def finish(self) -> None:
        """The true peak's last positions (the interpolation reaches past the last sample)."""
        self._true_peak.finish()

    def block_loudness(self) -> F64:
        """Loudness (LUFS) of every complete 400 ms gating block so far."""
        power = self._block_power()
        with np.errstate(divide="ignore"):
            loudness: F64 = _OFFSET + 10.0 * np.log10(power)
        return loudness

    def _block_power(self) -> F64:
        if not self._step_power:
            return np.zeros(0)
        steps = np.concatenate(self._step_power)
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
        """Linear true peak (4x oversampled, never below the sample peak)."""
        return self._true_peak.peak

    def true_peak_dbtp(self) -> float | None:
        return self._true_peak.true_peak_dbtp()


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
