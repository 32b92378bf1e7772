"""Cutting a coded byte stream (MP3 or ADTS) into whole frames, whatever the chunking."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from veza.audio import id3


@dataclass(frozen=True)
class FrameHeader:
    """What the splitter and segmenter need from one frame header."""

    length: int  # bytes, header included
    samples: int  # PCM samples per channel this frame decodes to
    sample_rate: int
    # Fields that stay constant through a stream; a mismatch means a false sync.
    signature: tuple[int, ...]


@functools.lru_cache(maxsize=4096)
def frame_header(
    length: int, samples: int, sample_rate: int, signature: tuple[int, ...]
) -> FrameHeader:
    """A FrameHeader, shared: a stream repeats a few hundred distinct headers, and making a
    frozen dataclass costs more than parsing the bytes (one per frame of every rendition)."""
    return FrameHeader(length, samples, sample_rate, signature)


HeaderParser = Callable[[bytes | bytearray, int], FrameHeader | None]
Frame = tuple[bytes, FrameHeader]  # a whole frame and its header

# Enough bytes to decide about an ID3 header or any frame header we parse.
_LOOKAHEAD = id3.HEADER_SIZE
# A larger "tag" inside a coded stream is garbage; waiting for it would buffer without bound.
MAX_TAG = 1 << 20


class FrameSplitter:
    """Incremental splitter: `feed` bytes as they come, get back every complete frame.

    Out of sync (at the start, after garbage or an ID3 tag) a candidate header is accepted only
    when the next frame's header follows it (or it ends the stream exactly), so random bytes
    rarely pass as a frame. Every decision waits until the bytes it needs are present, so the
    frames returned do not depend on how the stream was chunked.
    """

    def __init__(self, parse: HeaderParser) -> None:
        self._parse = parse
        self._buf = bytearray()
        self._synced = False
        self._signature: tuple[int, ...] | None = None
        self.skipped_bytes = 0
        self.first_header: FrameHeader | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        return [frame for frame, _ in self.feed_frames(data)]

    def finish(self) -> list[bytes]:
        return [frame for frame, _ in self.finish_frames()]

    def feed_frames(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """`feed`, each frame with its parsed header (no need to parse it again)."""
        self._buf += data
        return self._drain(final=False)

    def finish_frames(self) -> list[Frame]:
        frames = self._drain(final=True)
        self.skipped_bytes += len(self._buf)
        self._buf.clear()
        return frames

    def _header(self, pos: int) -> FrameHeader | None:
        header = self._parse(self._buf, pos)
        if header is None or (self._signature is not None and header.signature != self._signature):
            return None
        return header

    def _drain(self, *, final: bool) -> list[Frame]:
        buf, pos = self._buf, 0
        frames: list[Frame] = []
        while True:
            remaining = len(buf) - pos
            if remaining <= 0 or (remaining < _LOOKAHEAD and not final):
                break
            if buf[pos : pos + 3] == b"ID3":
                size = id3.tag_length(buf, pos)
                if size is not None and size <= MAX_TAG:
                    if size > remaining:
                        if final:
                            pos = len(buf)
                        break
                    self.skipped_bytes += size
                    pos += size
                    self._synced = False
                    continue
            header = self._header(pos)
            if header is None:
                self._synced = False
                self.skipped_bytes += 1
                pos += 1
                continue
            end = pos + header.length
            if end > len(buf):
                if final and not self._synced:
                    self.skipped_bytes += 1
                    pos += 1
                    continue
                break
            if not self._synced:
                confirmed = self._confirms(end, header, final=final)
                if confirmed is None:
                    break
                if not confirmed:
                    self.skipped_bytes += 1
                    pos += 1
                    continue
            frames.append((bytes(buf[pos:end]), header))
            if self.first_header is None:
                self.first_header = header
            self._signature = header.signature
            self._synced = True
            pos = end
        del buf[:pos]
        return frames

    def _confirms(self, end: int, header: FrameHeader, *, final: bool) -> bool | None:
        """Whether a frame follows `end` (None: not enough bytes yet to tell)."""
        if len(self._buf) - end < _LOOKAHEAD:
            if not final:
                return None
            if end == len(self._buf):
                return True
        if self._buf[end : end + 3] == b"ID3" and id3.tag_length(self._buf, end) is not None:
            return True
        following = self._parse(self._buf, end)
        return following is not None and following.signature == header.signature
