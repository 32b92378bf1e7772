"""The no-FFmpeg MP3 encoder: libsndfile's LAME streamed through a write-only sink."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from tests.support.signals import aligned, music
from veza.audio import mp3
from veza.audio.frames import FrameSplitter
from veza.audio.ladder import PRIMING_SAMPLES
from veza.audio.lame import LameEncoder


@pytest.mark.parametrize("kbps", [320, 256, 192, 160, 128, 96, 64])
def test_requested_bitrate_is_what_lame_writes(kbps: int) -> None:
    encoder = LameEncoder(kbps, 44100)
    data = encoder.encode(music(0.5)) + encoder.finish()
    frames = FrameSplitter(mp3.parse_header).feed(data)
    header = mp3.parse_header(frames[1])
    assert header is not None
    assert header.length in (144 * kbps * 1000 // 44100, 144 * kbps * 1000 // 44100 + 1)


def test_streamed_mp3_decodes_to_the_source_after_the_known_delay() -> None:
    signal = music(4.0)
    encoder = LameEncoder(320, 44100)
    chunks = [encoder.encode(signal[i : i + 10000]) for i in range(0, len(signal), 10000)]
    data = b"".join(chunks) + encoder.finish()
    frames = FrameSplitter(mp3.parse_header).feed(data)
    assert mp3.info_tag(frames[0]) is not None
    audio = b"".join(frames[1:])  # what the segments carry
    decoded, rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=True)
    assert rate == 44100
    lag, quality = aligned(signal, decoded)
    assert lag == PRIMING_SAMPLES["mp3"]
    assert quality > 25
    assert len(decoded) >= len(signal) + lag
    assert np.all(np.isfinite(decoded))
