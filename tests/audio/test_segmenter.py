from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.signals import music
from veza.audio import id3, mp3
from veza.audio.frames import FrameSplitter
from veza.audio.lame import LameEncoder
from veza.audio.segmenter import (
    FFMPEG_MP3_READ_BYTES,
    MAX_OVERSHOOT_S,
    Segmenter,
    frames_per_segment,
    most_frames_per_segment,
    mp3_join_ok,
)
from veza.audio.stream import RenditionStream


@given(
    st.floats(min_value=1.0, max_value=12.0),
    st.sampled_from([576, 1024, 1152, 2048]),
    st.sampled_from([22050, 44100, 48000]),
)
def test_segment_length_stays_within_target_plus_half_a_second(
    target: float, per_frame: int, rate: int
) -> None:
    frames = frames_per_segment(target, per_frame, rate)
    duration = frames * per_frame / rate
    assert duration <= target + MAX_OVERSHOOT_S
    assert abs(duration - target) <= per_frame / rate  # the nearest whole number of frames


def test_mp3_and_aac_defaults() -> None:
    assert frames_per_segment(6.0, 1152, 44100) == 230  # 6.008 s
    assert frames_per_segment(6.0, 1024, 44100) == 258  # 5.991 s
    assert most_frames_per_segment(6.0, 1152, 44100) == 248  # 6.478 s: still rounds to 6


@given(
    st.floats(min_value=1.0, max_value=12.0),
    st.sampled_from([576, 1024, 1152]),
    st.sampled_from([22050, 44100, 48000]),
)
def test_the_longest_segment_keeps_the_rounded_target(
    target: float, per_frame: int, rate: int
) -> None:
    most = most_frames_per_segment(target, per_frame, rate)
    assert most >= frames_per_segment(target, per_frame, rate)
    assert most * per_frame / rate < target + MAX_OVERSHOOT_S


def test_each_segment_is_stamped_with_its_first_sample() -> None:
    segmenter = Segmenter(target_s=6.0, samples_per_frame=1152, sample_rate=44100)
    segments = [s for i in range(1000) if (s := segmenter.push(bytes([i % 200]) * 10, 1152))]
    last = segmenter.finish()
    assert last is not None
    segments.append(last)
    assert [s.index for s in segments] == list(range(5))
    position = 0
    for segment in segments:
        assert segment.first_sample == position
        assert id3.read_priv_timestamp(segment.data) == round(position * 90000 / 44100)
        position += segment.samples
    assert position == 1000 * 1152
    assert segments[-1].samples == (1000 - 4 * 230) * 1152


def test_rendition_stream_drops_the_tag_frame_and_keeps_every_audio_frame() -> None:
    encoder = LameEncoder(128, 44100)
    data = encoder.encode(music(13.0)) + encoder.finish()
    all_frames = FrameSplitter(mp3.parse_header).feed(data)
    stream = RenditionStream("mp3", target_s=6.0, priming_samples=1105)
    segments = [s for i in range(0, len(data), 4096) for s in stream.feed(data[i : i + 4096])]
    segments += stream.finish()
    assert len(segments) == 3
    payload = b"".join(s.data[id3.tag_length(s.data) or 0 :] for s in segments)
    assert payload == b"".join(all_frames[1:])  # the blank Info placeholder is gone
    assert stream.samples == (len(all_frames) - 1) * 1152
    assert stream.samples >= 13 * 44100 + 1105


def _ffmpeg_lags(frame_sizes: list[int], segment_frames: list[int]) -> list[int]:
    """FFmpeg's lag at each join (see veza.audio.segmenter): the old segment's frames that end
    inside the 1024-byte read crossing into the next segment."""
    ends, total = [], 0
    for size in frame_sizes:
        total += size
        ends.append(total)
    lags, frame = [], 0
    for count in segment_frames[:-1]:
        frame += count
        join = ends[frame - 1]
        read_start = join - join % FFMPEG_MP3_READ_BYTES
        lags.append(sum(1 for end in ends[:frame] if read_start < end <= join))
    return lags


@pytest.mark.slow
@pytest.mark.parametrize("kbps", [64, 128, 320])
def test_mp3_segments_end_where_ffmpeg_times_every_join_alike(kbps: int) -> None:
    encoder = LameEncoder(kbps, 44100)
    data = encoder.encode(music(45.0)) + encoder.finish()
    stream = RenditionStream("mp3", target_s=6.0, priming_samples=1105)
    segments = stream.feed(data) + stream.finish()
    sizes, counts = [], []
    for segment in segments:
        splitter = FrameSplitter(mp3.parse_header)
        frames = splitter.feed(segment.data[id3.tag_length(segment.data) or 0 :])
        frames += splitter.finish()
        sizes += [len(f) for f in frames]
        counts.append(len(frames))
        assert segment.target_duration == 6
    assert all(230 <= n <= 248 for n in counts[:-1]), counts
    assert sum(counts[:-1]) / (len(counts) - 1) < 234  # close to the target all the same
    assert _ffmpeg_lags(sizes, counts) == [1] * (len(counts) - 1)
    for count, end in zip(counts[:-1], np.cumsum(counts)[:-1], strict=True):
        join = sum(sizes[:end])
        assert mp3_join_ok(join, sizes[end - 1]), (count, join)


def test_the_join_rule() -> None:
    assert mp3_join_ok(1024 * 7 + 1, 418) and mp3_join_ok(1024 * 7 + 418, 418)
    assert not mp3_join_ok(1024 * 7, 418)  # the read starts the next segment: lag 0
    assert not mp3_join_ok(1024 * 7 + 419, 418)  # two frames end in that read: lag 2
    assert mp3_join_ok(1024 * 7 + 1023, 1045)
