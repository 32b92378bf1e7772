from __future__ import annotations

import io
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutagen.id3 import ID3

from veza.audio import id3

OWNER = "com.apple.streaming.transportStreamTimestamp"


@given(st.integers(min_value=0, max_value=(1 << 33) - 1))
def test_priv_timestamp_round_trips_through_mutagen(timestamp: int) -> None:
    tag = id3.priv_timestamp_tag(timestamp)
    frames = ID3(io.BytesIO(tag)).getall("PRIV")
    assert len(frames) == 1
    assert frames[0].owner == OWNER
    assert len(frames[0].data) == 8
    assert frames[0].data[:4] == b"\x00\x00\x00" + bytes([timestamp >> 32])  # upper 31 bits 0
    assert int.from_bytes(frames[0].data, "big") == timestamp
    assert id3.read_priv_timestamp(tag + b"\xff\xfb") == timestamp
    assert id3.tag_length(tag) == len(tag)


def test_reader_accepts_mutagen_written_v23_tags() -> None:
    from mutagen.id3 import PRIV

    tags = ID3()
    tags.add(PRIV(owner=OWNER, data=(123456).to_bytes(8, "big")))
    buffer = io.BytesIO()
    tags.save(buffer, v2_version=3, padding=lambda info: 0)
    assert id3.read_priv_timestamp(buffer.getvalue()) == 123456


@pytest.mark.parametrize(
    ("samples", "rate", "stamp"),
    [
        (0, 44100, 0),
        (44100, 44100, 90000),  # one second
        (1152, 44100, 2351),  # one MP3 frame: 2351.02 ticks
        (1024, 22050, 4180),  # one AAC frame: 4179.59 ticks
        (1024, 48000, 1920),
        (95444 * 48000, 48000, 25408),  # 95444 s = 2**33 + 25408 ticks: wrapped
    ],
)
def test_timestamp_is_the_sample_count_on_a_33_bit_90khz_clock(
    samples: int, rate: int, stamp: int
) -> None:
    assert id3.timestamp_90k(samples, rate) == stamp


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([22050, 44100, 48000]))
def test_timestamp_is_the_nearest_tick_modulo_2_to_the_33(samples: int, rate: int) -> None:
    stamp = id3.timestamp_90k(samples, rate)
    assert 0 <= stamp < 1 << 33
    # the exact time rounded once, halves up (FFmpeg's av_rescale_q rounds to nearest, halves
    # away from zero), never a sum of rounded durations: a long stream keeps time to the tick
    exact = Fraction(samples * 90000, rate)
    assert stamp == math.floor(exact + Fraction(1, 2)) % (1 << 33)
    assert id3.timestamp_90k(12, 48000) == 23  # 22.5 ticks


def test_not_a_tag() -> None:
    assert id3.tag_length(b"\xff\xfb\x90\x44" * 4) is None
    assert id3.tag_length(b"ID3\x04\x00\x00\x80\x00\x00\x00") is None  # not syncsafe
    assert id3.read_priv_timestamp(b"RIFF....") is None
