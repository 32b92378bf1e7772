"""One rendition's coded stream turned into segments: split, drop the tag frame, cut."""

from __future__ import annotations

from veza.audio import adts, mp3
from veza.audio.frames import Frame, FrameSplitter
from veza.audio.ladder import MP3_DECODER_DELAY, Codec
from veza.audio.segmenter import Segment, Segmenter, mp3_join_ok


class RenditionStream:
    """Bytes of one encoder in (any chunking), finished segments out.

    `priming_samples` starts as the codec's known value and is replaced by what an encoder tag
    frame says when the stream carries one.
    """

    def __init__(self, codec: Codec, *, target_s: float, priming_samples: int) -> None:
        self.codec = codec
        self.target_s = target_s
        self.priming_samples = priming_samples
        self._parse = mp3.parse_header if codec == "mp3" else adts.parse_header
        self._splitter = FrameSplitter(self._parse)
        self._segmenter: Segmenter | None = None
        self._first = True

    def feed(self, data: bytes | bytearray | memoryview) -> list[Segment]:
        return self._take(self._splitter.feed_frames(data))

    def finish(self) -> list[Segment]:
        segments = self._take(self._splitter.finish_frames())
        if self._segmenter is not None:
            last = self._segmenter.finish()
            if last is not None:
                segments.append(last)
        return segments

    @property
    def samples(self) -> int:
        return 0 if self._segmenter is None else self._segmenter.position

    def _take(self, frames: list[Frame]) -> list[Segment]:
        out: list[Segment] = []
        for frame, header in frames:
            if self._first:
                self._first = False
                tag = mp3.info_tag(frame) if self.codec == "mp3" else None
                if tag is not None:
                    # The padding needs no tag: it is what is left after the source's samples.
                    if tag.delay is not None:
                        self.priming_samples = tag.delay + MP3_DECODER_DELAY
                    continue
            if self._segmenter is None:
                self._segmenter = Segmenter(
                    target_s=self.target_s,
                    samples_per_frame=header.samples,
                    sample_rate=header.sample_rate,
                    # AAC: FFmpeg's ADTS demuxer reads one whole frame at a time, so a join
                    # anywhere is timed right; MP3: see `mp3_join_ok`.
                    join_ok=mp3_join_ok if self.codec == "mp3" else None,
                )
            segment = self._segmenter.push(frame, header.samples)
            if segment is not None:
                out.append(segment)
        return out
