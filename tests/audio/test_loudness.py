"""BS.1770-4 / EBU R128 meter against EBU Tech 3341 reference signals."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.signals import sine
from veza.audio.loudness import LoudnessMeter, k_weighting, track_gain
from veza.audio.pcm import Normaliser


def measure(signal: np.ndarray, rate: int, block: int = 48000) -> LoudnessMeter:
    meter = LoudnessMeter(rate)
    for start in range(0, len(signal), block):
        meter.feed(signal[start : start + block])
    meter.finish()
    return meter


def tone_sequence(rate: int, parts: list[tuple[float, float]]) -> np.ndarray:
    """EBU Tech 3341 style: 1 kHz stereo sine at (level dBFS, seconds) in turn."""
    return np.concatenate([sine(1000.0, seconds, rate, level_db=level) for level, seconds in parts])


def test_filter_matches_the_bs1770_table_at_48khz() -> None:
    shelf_b, shelf_a, hp_b, hp_a = k_weighting(48000)
    assert shelf_b == pytest.approx((1.53512485958697, -2.69169618940638, 1.19839281085285))
    assert shelf_a == pytest.approx((1.0, -1.69065929318241, 0.73248077421585))
    assert hp_b == (1.0, -2.0, 1.0)
    assert hp_a == pytest.approx((1.0, -1.99004745483398, 0.99007225036603))


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([(-23.0, 20.0)], -23.0),  # Tech 3341 case 1
        ([(-33.0, 20.0)], -33.0),  # case 2
        ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),  # case 3: relative gate
        ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
        ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),  # case 5
    ],
)
@pytest.mark.slow
def test_ebu_tech_3341_cases(rate: int, parts: list[tuple[float, float]], expected: float) -> None:
    meter = measure(tone_sequence(rate, parts), rate)
    integrated = meter.integrated()
    assert integrated is not None
    assert integrated == pytest.approx(expected, abs=0.1)


def test_measured_after_resampling_to_the_house_rate() -> None:
    normaliser = Normaliser(48000, 2)
    signal = sine(1000.0, 20.0, 48000, level_db=-23.0)
    blocks = [normaliser.process(signal[i : i + 30000]) for i in range(0, len(signal), 30000)]
    blocks.append(normaliser.process(signal[:0], last=True))
    meter = measure(np.concatenate(blocks), 44100)
    assert meter.integrated() == pytest.approx(-23.0, abs=0.1)


def test_block_size_does_not_change_the_reading() -> None:
    signal = tone_sequence(44100, [(-30.0, 3.0), (-20.0, 2.0)])
    readings = [measure(signal, 44100, block).integrated() for block in (1000, 4410, 65536)]
    assert None not in readings  # (three Nones would be equal too)
    assert len({round(reading or 0.0, 9) for reading in readings}) == 1


def test_true_peak_sees_between_samples() -> None:
    # A sine at a quarter of the rate, sampled 45 degrees off its crest: every sample is at
    # -3 dB, the waveform between them reaches 0 dBFS.
    signal = sine(11025.0, 1.0, 44100, level_db=-1.0, phase=np.pi / 4)
    assert 20 * np.log10(np.max(np.abs(signal))) == pytest.approx(-4.01, abs=0.01)
    meter = measure(signal, 44100)
    assert meter.true_peak_dbtp() == pytest.approx(-1.0, abs=0.2)


def test_silence_and_short_input() -> None:
    silent = measure(np.zeros((44100, 2), np.float32), 44100)
    assert silent.integrated() is None
    assert silent.true_peak_dbtp() is None
    short = measure(sine(1000.0, 0.3, 44100, level_db=-20.0), 44100)  # under one 400 ms block
    assert short.integrated() is None


def test_gain_reaches_the_target_unless_the_true_peak_would_pass_the_ceiling() -> None:
    assert track_gain(-20.0, -10.0) == pytest.approx(6.0)
    assert track_gain(-20.0, -4.0) == pytest.approx(3.0)  # peak capped at -1 dBTP
    assert track_gain(-8.0, -0.5) == pytest.approx(-6.0)
    assert track_gain(-20.0, -10.0, target_lufs=-16.0, ceiling_dbtp=-2.0) == pytest.approx(4.0)
    assert track_gain(None, None) == 0.0
