"""The frame splitter over synthetic and real MP3/ADTS streams."""

from __future__ import annotations

import io

import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.signals import music
from veza.audio import adts, id3, mp3
from veza.audio.frames import FrameSplitter, HeaderParser
from veza.audio.lame import LameEncoder

_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def mp3_frame(kbps_index: int, padding: int, fill: int) -> bytes:
    """An MPEG-1 Layer III frame at 44.1 kHz; body bytes never 0xFF, so no sync inside."""
    header = bytes([0xFF, 0xFB, (kbps_index << 4) | (padding << 1), 0x44])
    length = 144 * _KBPS[kbps_index - 1] * 1000 // 44100 + padding
    return header + bytes([fill % 255]) * (length - 4)


def adts_frame(payload: int, fill: int) -> bytes:
    length = 7 + payload
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (4 << 2),
            (2 << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return header + bytes([fill % 255]) * payload


mp3_frames = st.lists(
    st.builds(mp3_frame, st.integers(1, 14), st.integers(0, 1), st.integers(0, 254)),
    min_size=1,
    max_size=12,
)
adts_frames = st.lists(
    st.builds(adts_frame, st.integers(1, 900), st.integers(0, 254)), min_size=1, max_size=12
)
# Garbage a real stream may carry between frames: no 0xFF (no sync) and no ID3 tag.
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\xff", b"\x00").replace(b"ID3", b"ID2"))


def split(parse: HeaderParser | None, data: bytes, cuts: list[int]) -> list[bytes]:
    splitter = FrameSplitter(parse or mp3.parse_header)
    out: list[bytes] = []
    previous = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        out += splitter.feed(data[previous:cut])
        previous = cut
    out += splitter.feed(data[previous:])
    return out + splitter.finish()


@given(mp3_frames, st.lists(st.integers(min_value=0), max_size=20))
def test_any_chunking_of_an_mp3_stream_yields_the_same_frames(
    frames: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(frames)
    assert split(None, data, cuts) == frames


@given(adts_frames, st.lists(st.integers(min_value=0), max_size=20))
def test_any_chunking_of_an_adts_stream_yields_the_same_frames(
    frames: list[bytes], cuts: list[int]
) -> None:
    assert split(adts.parse_header, b"".join(frames), cuts) == frames


@given(mp3_frames, st.data(), st.lists(st.integers(min_value=0), max_size=8))
def test_garbage_between_frames_is_skipped(
    frames: list[bytes], data: st.DataObject, cuts: list[int]
) -> None:
    # Out of sync, a frame is confirmed by the next header (or the exact end of the stream),
    # so garbage may precede a frame as long as the frame after it follows directly.
    stream = bytearray()
    for index, frame in enumerate(frames):
        if index % 2 == 0:
            stream += data.draw(garbage)
        stream += frame
    assert split(None, bytes(stream), cuts) == frames


@given(adts_frames, st.data())
def test_id3_tags_between_frames_are_skipped(frames: list[bytes], data: st.DataObject) -> None:
    stream = bytearray()
    for index, frame in enumerate(frames):
        if index % 2 == 0 and data.draw(st.booleans()):
            stream += id3.priv_timestamp_tag(data.draw(st.integers(0, (1 << 33) - 1)))
        stream += frame
    assert split(adts.parse_header, bytes(stream), []) == frames


def test_truncated_last_frame_is_dropped() -> None:
    frames = [mp3_frame(9, 0, i) for i in range(5)]
    data = b"".join(frames)
    splitter = FrameSplitter(mp3.parse_header)
    assert splitter.feed(data[:-10]) + splitter.finish() == frames[:-1]
    assert splitter.skipped_bytes == len(frames[-1]) - 10


@settings(deadline=None, max_examples=10)
@given(st.lists(st.integers(min_value=0), max_size=30))
def test_real_lame_stream_splits_into_whole_frames(cuts: list[int]) -> None:
    encoder = LameEncoder(128, 44100)
    data = encoder.encode(music(1.0)) + encoder.finish()
    frames = split(None, data, cuts)
    assert b"".join(frames) == data
    assert all(mp3.parse_header(f) is not None for f in frames)


def test_libsndfile_blank_placeholder_and_real_lame_tag_are_recognised() -> None:
    encoder = LameEncoder(320, 44100)
    streamed = encoder.encode(music(1.0)) + encoder.finish()
    first = FrameSplitter(mp3.parse_header).feed(streamed)[0]
    assert mp3.info_tag(first) == mp3.EncoderTag(None, None)

    buffer = io.BytesIO()  # seekable: libsndfile fills its Info frame with a LAME tag
    sf.write(buffer, music(1.0), 44100, format="MP3", subtype="MPEG_LAYER_III")
    frames = FrameSplitter(mp3.parse_header).feed(buffer.getvalue())
    tag = mp3.info_tag(frames[0])
    assert tag is not None and tag.delay == 576
    assert tag.padding is not None
    assert (len(frames) - 1) * 1152 == tag.delay + 44100 + tag.padding
    assert mp3.info_tag(frames[1]) is None


def test_headers() -> None:
    header = mp3.parse_header(mp3_frame(14, 1, 0))
    assert header is not None
    assert (header.length, header.samples, header.sample_rate) == (1045, 1152, 44100)
    assert mp3.parse_header(b"\xff\xfb\xf0\x44") is None  # bitrate index 15
    assert mp3.parse_header(b"\xff\xfd\x90\x44") is None  # layer II
    frame = adts_frame(100, 0)
    header = adts.parse_header(frame)
    assert header is not None
    assert (header.length, header.samples, header.sample_rate) == (107, 1024, 44100)
    assert adts.parse_header(b"\xff\xf1") is None
