"""MP3 encoding in-process through libsndfile's LAME: the encoder used when FFmpeg is missing."""

from __future__ import annotations

import contextlib

import numpy as np
import numpy.typing as npt
import soundfile as sf

MAX_KBPS = 320
MIN_KBPS = 32
_MAX_LEVEL = 0.99  # libsndfile rejects compression_level=1.0 in every mode


def compression_level(bitrate_kbps: int) -> float:
    """libsndfile asks LAME for 320 - 288 * level kbit/s, which snaps to the nearest MPEG
    bitrate (measured: 0.6 gives 160, 0.65 gives 128), so invert that line exactly."""
    return min(_MAX_LEVEL, max(0.0, (MAX_KBPS - bitrate_kbps) / (MAX_KBPS - MIN_KBPS)))


class _Sink:
    """A write-only file libsndfile streams into; the bytes are taken as they come.

    At close libsndfile seeks back to fill its Xing/Info placeholder frame; those bytes were
    handed out already, so writes behind the end are dropped and the placeholder stays blank
    (RenditionStream drops that frame).
    """

    def __init__(self) -> None:
        self.pending = bytearray()
        self._end = 0
        self._position = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        if self._position >= self._end:
            self.pending += data
            self._end += n
        self._position += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._end}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        data = bytes(self.pending)
        self.pending.clear()
        return data


class LameEncoder:
    """Stereo float32 blocks in, raw MP3 bytes out (CBR at `bitrate_kbps`)."""

    def __init__(self, bitrate_kbps: int, sample_rate: int, channels: int = 2) -> None:
        self._sink = _Sink()
        self._file = sf.SoundFile(
            self._sink,
            mode="w",
            samplerate=sample_rate,
            channels=channels,
            format="MP3",
            subtype="MPEG_LAYER_III",
            bitrate_mode="CONSTANT",
            compression_level=compression_level(bitrate_kbps),
        )

    def encode(self, block: npt.NDArray[np.float32]) -> bytes:
        self._file.write(np.clip(block, -1.0, 1.0))
        return self._sink.take()

    def finish(self) -> bytes:
        """Flush LAME and close: the last frames of the stream."""
        self._file.close()
        return self._sink.take()

    def close(self) -> None:
        """Close without wanting the rest (an encode given up), ignoring a failure to flush;
        harmless after `finish`. Like `finish`, a blocking libsndfile call (LAME flushes):
        run it in a worker thread."""
        with contextlib.suppress(sf.LibsndfileError, RuntimeError):
            self._file.close()
        self._sink.take()

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)
