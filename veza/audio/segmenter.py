"""Grouping whole frames into HLS packed-audio segments, each led by its ID3 timestamp."""

from __future__ import annotations

from dataclasses import dataclass

from veza.audio import id3

MAX_OVERSHOOT_S = 0.5  # RFC 8216: a segment may exceed the target duration by at most this


@dataclass(frozen=True)
class Segment:
    index: int
    first_sample: int  # in the coded stream's timeline, priming included
    samples: int
    sample_rate: int
    data: bytes  # ID3 tag + frames

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


def frames_per_segment(target_s: float, samples_per_frame: int, sample_rate: int) -> int:
    """The whole number of frames closest to `target_s`, never over target + 0.5 s."""
    frames = max(1, round(target_s * sample_rate / samples_per_frame))
    while frames > 1 and frames * samples_per_frame / sample_rate > target_s + MAX_OVERSHOOT_S:
        frames -= 1
    return frames


class Segmenter:
    """Collects frames; returns a Segment each time `frames` of them have arrived."""

    def __init__(self, *, target_s: float, samples_per_frame: int, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.frames = frames_per_segment(target_s, samples_per_frame, sample_rate)
        self._pending: list[bytes] = []
        self._pending_samples = 0
        self._index = 0
        self._position = 0

    def push(self, frame: bytes, samples: int) -> Segment | None:
        self._pending.append(frame)
        self._pending_samples += samples
        if len(self._pending) >= self.frames:
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
        )
        self._index += 1
        self._position += self._pending_samples
        self._pending, self._pending_samples = [], 0
        return segment
