"""The true peak's oversampling and its pruning (veza/audio/truepeak.py): skipping the chunks
whose bound is below the running peak must change nothing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from tests.support.signals import music, sine
from veza.audio.truepeak import CHUNK, REACH, TruePeak, bound_factors, interpolator

F32 = npt.NDArray[np.float32]
RATE = 44100


def measured(signal: F32, block: int = 65536, *, prune: bool = True) -> TruePeak:
    peak = TruePeak(signal.shape[1], prune=prune)
    for start in range(0, len(signal), block):
        peak.feed(signal[start : start + block])
    peak.finish()
    return peak


def reference(signal: F32) -> float:
    """Every interpolated point of the whole signal at once, in float64: the filter itself,
    with no blocks, chunks or carried samples."""
    taps = interpolator()
    peak = float(np.max(np.abs(signal), initial=0.0))
    for channel in signal.T:
        padded = np.concatenate([np.zeros(REACH), channel.astype(np.float64), np.zeros(REACH)])
        for phase in taps.T:
            points = np.convolve(padded, phase[::-1], mode="valid")
            peak = max(peak, float(np.max(np.abs(points))))
    return peak


def inter_sample_over(seconds: float) -> F32:
    """A quarter-rate sine 45 degrees off its crest (every sample 3 dB under it), faded."""
    signal = sine(RATE / 4, seconds, RATE, level_db=-1.0, phase=np.pi / 4)
    fade = np.sin(np.linspace(0.0, np.pi / 2, RATE // 20, dtype=np.float32))[:, None] ** 2
    signal[: len(fade)] *= fade
    signal[-len(fade) :] *= fade[::-1]
    return signal


def noise(seconds: float, level: float, seed: int) -> F32:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((round(seconds * RATE), 2)) * level).astype(np.float32)


SIGNALS = {
    "music-like": lambda: music(3.0, RATE, seed=3),
    "inter-sample over": lambda: inter_sample_over(3.0),
    "white noise": lambda: noise(3.0, 0.1, seed=4),
    "clipped noise": lambda: np.clip(noise(3.0, 0.5, seed=5), -0.5, 0.5),
    "one channel": lambda: np.stack(
        [music(4.0, RATE, seed=6, channels=1)[:, 0], np.zeros(4 * RATE, np.float32)], axis=1
    ),
}


@pytest.mark.parametrize("name", list(SIGNALS))
def test_pruning_gives_the_value_of_every_chunk_computed(name: str) -> None:
    signal = SIGNALS[name]()
    pruned, full = measured(signal), measured(signal, prune=False)
    assert full.computed == full.chunks
    assert pruned.peak == full.peak
    assert pruned.peak == pytest.approx(reference(signal), rel=1e-6)


@pytest.mark.parametrize("block", [1, 1000, CHUNK, CHUNK + 2 * REACH - 1, 65536])
def test_block_size_does_not_change_the_value(block: int) -> None:
    """Samples are carried across block edges: any block size gives the same points."""
    signal = np.concatenate([music(0.4, RATE, seed=8), inter_sample_over(0.3)])
    assert measured(signal, block).peak == measured(signal, 4096).peak


def test_the_peak_between_samples_is_found() -> None:
    signal = inter_sample_over(1.0)
    assert 20 * np.log10(np.max(np.abs(signal))) == pytest.approx(-4.01, abs=0.01)
    peak = measured(signal)
    assert peak.true_peak_dbtp() == pytest.approx(-1.0, abs=0.01)
    assert peak.true_peak_dbtp() == pytest.approx(20 * np.log10(reference(signal)), abs=1e-5)


@pytest.mark.parametrize("edge", [-REACH - 1, -REACH, -1, 0, 1, REACH - 1, REACH, 2 * REACH])
@pytest.mark.parametrize("block", [CHUNK * 3, 65536])
def test_a_lone_peak_at_a_chunk_or_block_edge(edge: int, block: int) -> None:
    """A short inter-sample over in quiet music, its crest placed around the edge between two
    chunks (and, with blocks of 3 chunks, two blocks): whichever chunk holds it is computed."""
    quiet = music(0.5, RATE, seed=9) * np.float32(0.05)
    at = 6 * CHUNK + edge  # chunks and blocks of 3 chunks both start at frame 6 * CHUNK
    burst = sine(RATE / 4, 2 * REACH / RATE, RATE, level_db=-1.0, phase=np.pi / 4)
    burst *= np.hanning(len(burst)).astype(np.float32)[:, None]
    signal = quiet.copy()
    signal[at - REACH : at + REACH] += burst
    signal[:, 1] *= 0.5  # the channels differ
    assert measured(signal, block).peak == pytest.approx(reference(signal), rel=1e-6)
    assert measured(signal, block).peak == measured(signal, block, prune=False).peak


def test_silence() -> None:
    peak = measured(np.zeros((RATE, 2), np.float32))
    assert peak.peak == 0.0
    assert peak.true_peak_dbtp() is None
    assert peak.computed == 0


def test_music_is_mostly_skipped() -> None:
    """What the pruning is for: on music only the chunks near its loudest are computed."""
    peak = measured(music(8.0, RATE, seed=10))
    assert peak.computed < 0.05 * peak.chunks


def test_the_bound_holds_for_the_worst_windows() -> None:
    """Windows built to drive a phase as high as it goes (each sample the sign of its tap),
    and random ones: no point is above a max|x| + b max|D2(x)|."""
    taps = interpolator()
    a, b = bound_factors(taps)
    rng = np.random.default_rng(12)
    windows = [np.sign(taps[:, p]) for p in range(taps.shape[1])]
    windows += list(rng.uniform(-1.0, 1.0, (2000, len(taps))))
    windows += list(np.cumsum(rng.uniform(-0.1, 0.1, (2000, len(taps))), axis=1))  # smooth
    for window in windows:
        second = window[2:] - 2 * window[1:-1] + window[:-2]
        bound = a * np.max(np.abs(window)) + b * np.max(np.abs(second))
        assert np.max(np.abs(window @ taps)) <= bound


@pytest.mark.parametrize("name", ["music-like", "inter-sample over"])
def test_close_to_soxr_hq_oversampling(name: str) -> None:
    """The filter reads what soxr's HQ 4x resampler (which it replaced) read, to 0.01 dB."""
    signal = SIGNALS[name]()
    peak = float(np.max(np.abs(signal)))
    for channel in signal.T:
        up = soxr.resample(np.ascontiguousarray(channel), RATE, 4 * RATE, quality="HQ")
        peak = max(peak, float(np.max(np.abs(up))))
    assert measured(signal).true_peak_dbtp() == pytest.approx(20 * np.log10(peak), abs=0.01)
