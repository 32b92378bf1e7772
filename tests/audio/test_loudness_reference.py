"""The meter against independent references: pyloudnorm (BS.1770-4) for integrated loudness,
FFmpeg's `ebur128` filter for true peak.

Each signal goes the way the pipeline takes it: written to a file, decoded in blocks by
libsndfile, downmixed to stereo and resampled to the house rate (veza.audio.pcm), then measured.
pyloudnorm measures those same house-format samples: the pipeline normalises what it serves,
which for a 48 kHz source has lost what lay above 22.05 kHz (white noise reads 0.6 LU lower at
44.1 kHz than at 48 kHz; band-limited sources read the same, checked below).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tests.support import require_tool
from tests.support.signals import music, sine
from veza.audio.decode import SoundfileDecoder
from veza.audio.loudness import LoudnessMeter
from veza.audio.pcm import SAMPLE_RATE, Normaliser, scaled, to_stereo

F32 = np.ndarray


def measured_as_the_pipeline_does(path: Path) -> tuple[LoudnessMeter, F32]:
    """SourceReader's soundfile path (decode, house format, `scaled`) into the meter; the meter
    and every house-format sample it was fed."""
    info = sf.info(str(path))
    normaliser = Normaliser(int(info.samplerate), int(info.channels))
    meter = LoudnessMeter(SAMPLE_RATE)
    decoder = SoundfileDecoder(path)
    seen = []
    try:
        while (block := decoder.read()) is not None:
            seen.append(scaled(normaliser.process(block)))
            meter.feed(seen[-1])
        seen.append(scaled(normaliser.process(np.zeros((0, info.channels), np.float32), last=True)))
        meter.feed(seen[-1])
    finally:
        decoder.close()
    meter.finish()
    return meter, np.concatenate(seen)


def reference_lufs(stereo: F32, rate: int, filter_class: str = "K-weighting") -> float:
    meter = pyloudnorm.Meter(rate, filter_class=filter_class)
    return float(meter.integrated_loudness(stereo.astype(np.float64)))


def written(tmp_path: Path, signal: F32, rate: int) -> Path:
    path = tmp_path / f"source-{rate}-{signal.shape[1]}ch.wav"
    sf.write(path, signal, rate, subtype="FLOAT")
    return path


def gaussian(seconds: float, rate: int, level_db: float, seed: int = 3) -> F32:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((round(seconds * rate), 2)) * 10 ** (level_db / 20)
    return noise.astype(np.float32)


def pink(seconds: float, rate: int, level_db: float) -> F32:
    """1/f noise, shaped in the frequency domain, scaled to `level_db` RMS."""
    n = round(seconds * rate)
    rng = np.random.default_rng(11)
    spectrum = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    spectrum[:, 1:] /= np.sqrt(np.arange(1, spectrum.shape[1]))
    x = np.fft.irfft(spectrum, n, axis=1).T
    x *= 10 ** (level_db / 20) / np.sqrt(np.mean(x**2))
    return x.astype(np.float32)


def tones(seconds: float, rate: int) -> F32:
    """Three tones in turn: 100 Hz, 1 kHz, 6 kHz, at different levels."""
    third = seconds / 3
    return np.concatenate(
        [
            sine(100.0, third, rate, level_db=-12.0),
            sine(1000.0, third, rate, level_db=-20.0),
            sine(6000.0, third, rate, level_db=-30.0),
        ]
    )


def silence_heavy(seconds: float, rate: int) -> F32:
    """Music, long digital silence, a passage 30 dB down (under the relative gate), music."""
    quarter = round(seconds / 4 * rate)
    return np.concatenate(
        [
            music(seconds / 4, rate, seed=1),
            np.zeros((quarter, 2), np.float32),
            music(seconds / 4, rate, seed=2) * np.float32(10 ** (-30 / 20)),
            music(seconds / 4, rate, seed=3),
        ]
    )


def surround(seconds: float, rate: int) -> F32:
    """5.1 in WAVE order (L R C LFE Ls Rs), each channel its own content."""
    n = round(seconds * rate)
    front = music(seconds, rate, seed=4)
    centre = sine(440.0, seconds, rate, level_db=-14.0, channels=1)
    lfe = sine(50.0, seconds, rate, level_db=-6.0, channels=1)
    surrounds = gaussian(seconds, rate, -28.0, seed=5)
    out = np.concatenate([front, centre, lfe, surrounds], axis=1)
    assert out.shape == (n, 6)
    return out


SIGNALS: dict[str, Callable[[float, int], F32]] = {
    "tones": tones,
    "white noise": lambda s, r: gaussian(s, r, -25.0),
    "pink noise": lambda s, r: pink(s, r, -18.0),
    "music-like": lambda s, r: music(s, r, seed=9),
    "silence-heavy": silence_heavy,
    "5.1": surround,
}


@pytest.mark.slow
@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("name", list(SIGNALS))
def test_integrated_loudness_matches_pyloudnorm(tmp_path: Path, name: str, rate: int) -> None:
    signal = SIGNALS[name](24.0, rate)
    meter, house = measured_as_the_pipeline_does(written(tmp_path, signal, rate))
    got = meter.integrated()
    assert got is not None
    assert got == pytest.approx(reference_lufs(house, SAMPLE_RATE), abs=0.1)
    # pyloudnorm's default K-weighting is an approximation (about 0.045 dB low across the
    # band); with its "DeMan" filter, BS.1770's own coefficients, only the gating is compared.
    assert got == pytest.approx(reference_lufs(house, SAMPLE_RATE, "DeMan"), abs=0.005)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tones", "music-like", "5.1"])
def test_band_limited_48khz_sources_read_as_at_their_own_rate(tmp_path: Path, name: str) -> None:
    """The downmix and the resampling to 44.1 kHz leave the loudness of audio below 20 kHz
    as pyloudnorm reads the source's own stereo downmix at 48 kHz."""
    signal = SIGNALS[name](24.0, 48000)
    meter, _ = measured_as_the_pipeline_does(written(tmp_path, signal, 48000))
    got = meter.integrated()
    assert got is not None
    expected = reference_lufs(to_stereo(signal, signal.shape[1]), 48000)
    assert got == pytest.approx(expected, abs=0.1)


def ffmpeg_true_peak(ffmpeg: str, path: Path) -> float:
    done = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true:framelog=verbose",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    summary = done.stderr[done.stderr.rfind("Summary:") :]
    found = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+) dBFS", summary)
    assert found, done.stderr[-2000:]
    return float(found.group(1))


@pytest.mark.parametrize(
    ("name", "rate"),
    [
        ("inter-sample over", 44100),  # every sample 3 dB under the waveform's crest
        ("music-like", 44100),
        ("pink noise", 48000),
        # Clipped: its overshoots come from what lies near 20 kHz, where interpolators differ
        # most (a shorter filter of ours, flatter to 18 kHz only, read this 0.4 dB low).
        ("clipped pink noise", 44100),
    ],
)
def test_true_peak_matches_ffmpeg(tmp_path: Path, name: str, rate: int) -> None:
    ffmpeg = require_tool("ffmpeg")
    if name == "inter-sample over":
        # Faded in and out: an abrupt start rings in every interpolator, each its own way.
        signal = sine(rate / 4, 10.0, rate, level_db=-2.0, phase=np.pi / 4)
        fade = np.sin(np.linspace(0.0, np.pi / 2, rate // 10, dtype=np.float32))[:, None] ** 2
        signal[: len(fade)] *= fade
        signal[-len(fade) :] *= fade[::-1]
    elif name == "clipped pink noise":
        signal = np.clip(pink(10.0, rate, -6.0), -0.5, 0.5)
    else:
        signal = SIGNALS[name](10.0, rate)
    path = written(tmp_path, signal, rate)
    got = measured_as_the_pipeline_does(path)[0].true_peak_dbtp()
    assert got is not None
    assert got == pytest.approx(ffmpeg_true_peak(ffmpeg, path), abs=0.2)
