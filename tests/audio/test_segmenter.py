from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.support.signals import music
from veza.audio import id3, mp3
from veza.audio.frames import FrameSplitter
from veza.audio.lame import LameEncoder
from veza.audio.segmenter import MAX_OVERSHOOT_S, Segmenter, frames_per_segment
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
