"""Conversion to the house format: channels, rates, sample formats, raw float32 bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from tests.support.signals import music, sine, snr
from veza.audio.decode import PcmAssembler, SoundfileDecoder, soundfile_info
from veza.audio.pcm import Normaliser, downmix_matrix, to_f32le, to_stereo


def test_mono_is_duplicated() -> None:
    mono = np.linspace(-1, 1, 100, dtype=np.float32)[:, None]
    stereo = to_stereo(mono, 1)
    assert stereo.shape == (100, 2)
    assert np.array_equal(stereo[:, 0], mono[:, 0]) and np.array_equal(stereo[:, 1], mono[:, 0])


def test_five_one_downmix_uses_itu_weights() -> None:
    # L R C LFE Ls Rs, each channel a distinct constant
    block = np.tile(np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5], np.float32), (10, 1))
    left, right = to_stereo(block, 6)[0]
    s = np.sqrt(0.5)
    assert left == pytest.approx(0.1 + s * 0.3 + s * 0.4)  # LFE dropped
    assert right == pytest.approx(0.2 + s * 0.3 + s * 0.5)


S = np.sqrt(0.5)  # -3 dB


@pytest.mark.parametrize(
    ("channels", "left", "right"),
    [
        (1, [1], [1]),
        (2, [1, 0], [0, 1]),
        (3, [1, 0, S], [0, 1, S]),  # L R C
        (4, [1, 0, S, 0], [0, 1, 0, S]),  # L R Ls Rs
        (5, [1, 0, S, S, 0], [0, 1, S, 0, S]),  # L R C Ls Rs
        (6, [1, 0, S, 0, S, 0], [0, 1, S, 0, 0, S]),  # L R C LFE Ls Rs
        (7, [1, 0, S, 0, S, S, 0], [0, 1, S, 0, S, 0, S]),  # L R C LFE Cs Ls Rs
        (8, [1, 0, S, 0, S, 0, S, 0], [0, 1, S, 0, 0, S, 0, S]),  # L R C LFE Ls Rs Lb Rb
        # No standard layout: channels alternate left and right at sqrt(2 / channels) each.
        (9, [0.4714045, 0] * 4 + [0.4714045], [0, 0.4714045] * 4 + [0]),
        (10, [0.4472136, 0] * 5, [0, 0.4472136] * 5),
    ],
)
def test_every_channel_count_has_a_known_downmix(
    channels: int, left: list[float], right: list[float]
) -> None:
    expected = np.array([left, right]).T
    assert downmix_matrix(channels) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("rate", [22050, 44100, 48000, 96000])
def test_resampling_keeps_length_and_pitch(rate: int) -> None:
    signal = sine(1000.0, 2.0, rate, level_db=-6.0, channels=1)
    normaliser = Normaliser(rate, 1)
    blocks = [normaliser.process(signal[i : i + 7000]) for i in range(0, len(signal), 7000)]
    out = np.concatenate([*blocks, normaliser.process(signal[:0], last=True)])
    assert abs(len(out) - 2 * 44100) <= 2
    assert out.shape[1] == 2
    reference = sine(1000.0, 2.0, 44100, level_db=-6.0)
    # soxr's linear-phase filter is centred: the output lines up with the input sample-for-sample
    middle = slice(1000, 2 * 44100 - 1000)
    assert snr(reference[middle], out[middle]) > 60


@pytest.mark.parametrize(
    ("subtype", "tolerance"),
    [("PCM_U8", 1 / 64), ("PCM_16", 1e-4), ("PCM_24", 1e-6), ("FLOAT", 0.0)],
)
def test_wav_sample_formats_decode_in_blocks(
    tmp_path: Path, subtype: str, tolerance: float
) -> None:
    signal = music(1.3, 44100) * 0.9
    path = tmp_path / "x.wav"
    sf.write(path, signal, 44100, subtype=subtype)
    info = soundfile_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, len(signal))
    decoder = SoundfileDecoder(path, block_frames=10_000)
    blocks = []
    while (block := decoder.read()) is not None:
        assert len(block) <= 10_000 and block.dtype == np.float32
        blocks.append(block)
    decoder.close()
    decoded = np.concatenate(blocks)
    assert decoder.frames_read == len(signal)
    assert np.max(np.abs(decoded - signal)) <= tolerance


@given(st.lists(st.integers(min_value=0, max_value=4000), max_size=10), st.integers(1, 6))
def test_raw_float32_reassembles_whatever_the_chunking(cuts: list[int], channels: int) -> None:
    block = np.arange(500 * channels, dtype=np.float32).reshape(-1, channels) / 1000
    raw = to_f32le(block)
    assembler = PcmAssembler(channels)
    pieces, previous = [], 0
    for cut in sorted(c % (len(raw) + 1) for c in cuts):
        pieces.append(assembler.feed(raw[previous:cut]))
        previous = cut
    pieces.append(assembler.feed(raw[previous:]))
    assert assembler.leftover == 0
    assert np.array_equal(np.concatenate(pieces), block)


def test_a_wav_cut_short_is_reported_but_a_streamed_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros((10000, 2), np.float32), 44100, subtype="PCM_16")
    whole = path.read_bytes()
    path.write_bytes(whole[:20044])
    damage = soundfile_info(path).damage
    assert damage is not None and "40000 bytes but only 20000" in damage
    path.write_bytes(whole[:40] + b"\xff\xff\xff\xff" + whole[44:20044])
    assert soundfile_info(path).damage is None
    assert soundfile_info(path).frames == 5000
