"""Grouping whole frames into HLS packed-audio segments, each led by its ID3 timestamp.

Where an MP3 segment ends matters to FFmpeg (`mp3_join_ok`); AAC segments all have the same
number of frames but the last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from veza.audio import hls, id3

MAX_OVERSHOOT_S = 0.5  # RFC 8216: a segment may exceed the target duration by at most this

# What FFmpeg's HLS demuxer does with a packed-MP3 rendition (libavformat/hls.c, mp3dec.c,
# FFmpeg 5.1 as on Debian 12, checked packet by packet with ffprobe): the segments' bytes,
# each ID3 tag cut out, go to its MP3 demuxer as one stream, read 1024 bytes at a time
# (MP3_PACKET_SIZE) and framed by a parser. The timestamp of the next segment's tag takes
# effect at the read that crosses into that segment, and every frame the parser completes
# from that read on is timed from it, counting frame durations from zero: the frames of the
# old segment that end inside that read are timed as if they started the new one. Call the
# number of them the lag of the join; FFmpeg's timeline then runs `lag` frames late until the
# next join. A lag that grows is a forward jump, harmless; a lag that shrinks by one gives
# two frames the same time (and by more, time going back): `ffmpeg -i index.m3u8` then warns
# "non monotonically increasing dts". No rounding of the timestamps can avoid that, since the
# two frames really are given the same instant, so MP3 segments end only where the lag is one
# frame: where the read that crosses the join starts inside the segment's last frame.
FFMPEG_MP3_READ_BYTES = 1024


def mp3_join_ok(end: int, last_frame_bytes: int) -> bool:
    """Whether FFmpeg's demuxer sees a lag of exactly one frame at a join placed `end` bytes
    into the rendition's coded stream (ID3 tags not counted), after a frame of
    `last_frame_bytes`: the 1024-byte read holding the join starts inside that frame."""
    into_read = end % FFMPEG_MP3_READ_BYTES
    return 1 <= into_read <= last_frame_bytes


JoinRule = Callable[[int, int], bool]


@dataclass(frozen=True)
class Segment:
    index: int
    first_sample: int  # in the coded stream's timeline, priming included
    samples: int
    sample_rate: int
    data: bytes  # ID3 tag + frames
    target_duration: int  # EXT-X-TARGETDURATION that every segment of this stream keeps to

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


def frames_per_segment(target_s: float, samples_per_frame: int, sample_rate: int) -> int:
    """The whole number of frames closest to `target_s`, never over target + 0.5 s."""
    frames = max(1, round(target_s * sample_rate / samples_per_frame))
    while frames > 1 and frames * samples_per_frame / sample_rate > target_s + MAX_OVERSHOOT_S:
        frames -= 1
    return frames


def most_frames_per_segment(target_s: float, samples_per_frame: int, sample_rate: int) -> int:
    """The most frames a segment may hold: under target + 0.5 s, so that the playlist's target
    duration (every EXTINF rounded to the nearest second) stays the rounded target."""
    base = frames_per_segment(target_s, samples_per_frame, sample_rate)
    frames = base
    while (frames + 1) * samples_per_frame / sample_rate < target_s + MAX_OVERSHOOT_S:
        frames += 1
    return frames


class Segmenter:
    """Collects frames; returns a Segment each time enough of them have arrived.

    A segment holds `frames` frames, or, with a `join_ok` rule, the fewest frames from `frames`
    on after which the rule accepts the join (at most `most_frames`). The ID3 timestamp of a
    segment is the number of samples before it on the 90 kHz clock, rounded to the nearest
    tick: what FFmpeg's demuxers reach by adding exact frame durations and rounding once.
    """

    def __init__(
        self,
        *,
        target_s: float,
        samples_per_frame: int,
        sample_rate: int,
        join_ok: JoinRule | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.frames = frames_per_segment(target_s, samples_per_frame, sample_rate)
        self.most_frames = most_frames_per_segment(target_s, samples_per_frame, sample_rate)
        longest = (self.most_frames if join_ok else self.frames) * samples_per_frame
        self.target_duration = hls.target_duration(longest / sample_rate)
        self._join_ok = join_ok
        self._pending: list[bytes] = []
        self._pending_samples = 0
        self._index = 0
        self._position = 0
        self._bytes = 0  # of frames so far, the ID3 tags not counted

    def push(self, frame: bytes, samples: int) -> Segment | None:
        self._pending.append(frame)
        self._pending_samples += samples
        self._bytes += len(frame)
        count = len(self._pending)
        if count < self.frames:
            return None
        if (
            self._join_ok is None
            or count >= self.most_frames
            or self._join_ok(self._bytes, len(frame))
        ):
            return self._cut()
        return None

    def finish(self) -> Segment | None:
        return self._cut() if self._pending else None

    @property
    def position(self) -> int:
        """Samples in the segments cut so far."""
        return self._position

    def _cut(self) -> Segment:
        tag = id3.priv_timestamp_tag(id3.timestamp_90k(self._position, self.sample_rate))
        segment = Segment(
            self._index,
            self._position,
            self._pending_samples,
            self.sample_rate,
            tag + b"".join(self._pending),
            self.target_duration,
        )
        self._index += 1
        self._position += self._pending_samples
        self._pending, self._pending_samples = [], 0
        return segment
