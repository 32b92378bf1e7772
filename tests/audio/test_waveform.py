from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.signals import sine
from veza.audio.waveform import WaveformBuilder


def build(signal: np.ndarray, block: int, points: int = 1000) -> dict[str, object]:
    builder = WaveformBuilder(44100, expected_frames=len(signal), points=points)
    for start in range(0, len(signal), block):
        builder.feed(signal[start : start + block])
    return builder.to_json()


def test_about_a_thousand_pairs_and_one_summary_per_second() -> None:
    signal = sine(50.0, 12.5, 44100, level_db=-6.0)
    data = build(signal, 65536)
    peaks, seconds = data["peaks"], data["seconds"]
    assert isinstance(peaks, list) and isinstance(seconds, list)
    assert 990 <= len(peaks) <= 1000
    assert len(seconds) == 13
    level = 10 ** (-6 / 20)
    assert seconds[0] == pytest.approx([-level, level, level / np.sqrt(2)], abs=1e-3)
    json.dumps(data)


@pytest.mark.parametrize("block", [1, 97, 4410, 1 << 16])
def test_chunking_does_not_change_the_result(block: int) -> None:
    rng = np.random.default_rng(3)
    signal = (rng.standard_normal((20000, 2)) * 0.1).astype(np.float32)
    assert build(signal, block, points=37) == build(signal, len(signal), points=37)


def test_a_click_shows_in_its_bucket() -> None:
    signal = np.zeros((44100 * 4, 2), np.float32)
    signal[100_000, 1] = 0.8
    data = build(signal, 5000, points=100)
    stride = data["samples_per_peak"]
    assert isinstance(stride, int)
    peaks = data["peaks"]
    assert isinstance(peaks, list)
    hot = [i for i, (low, high) in enumerate(peaks) if high > 0]
    assert hot == [100_000 // stride]


def test_gain_scales_the_peaks() -> None:
    builder = WaveformBuilder(44100, expected_frames=44100, points=10)
    builder.feed(sine(100.0, 1.0, 44100, level_db=0.0))
    assert builder.to_json(0.5)["peaks"][0][1] == pytest.approx(0.5, abs=1e-3)  # type: ignore[index]
