"""Reading PCM blocks: from files libsndfile reads, and from the raw float32 of an FFmpeg child."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from veza.audio.resample import Block

BLOCK_FRAMES = 1 << 16
# libsndfile's "length unknown" (SF_COUNT_MAX), e.g. for a FLAC whose STREAMINFO has no sample
# count (what a FLAC encoder writing to a pipe leaves); anything near it is no real length.
UNKNOWN_FRAMES = 1 << 62
# libsndfile's log notes a chunk longer than the file as "data : 352800 (should be 40000)".
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Writers that stream (and cannot seek back) leave the size at or near 0xFFFFFFFF: "unknown".
_UNKNOWN_SIZE = 0xFFFF0000


@dataclass(frozen=True)
class SourceInfo:
    """What decoding needs to know about a source before reading it."""

    sample_rate: int
    channels: int
    frames: int | None  # None when only an estimate of the duration is known
    duration_s: float | None
    format: str
    decoder: str  # "soundfile" or "ffmpeg"
    damage: str | None = None  # why the file is unusable although its header could be read


def soundfile_info(path: Path) -> SourceInfo:
    """Probe with libsndfile; raises sf.LibsndfileError (or RuntimeError) for what it can't read.

    The file is handed over open, without its name: given a name ending in `.mp3`, libsndfile
    passes whatever its content does not identify to mpg123, which skips anything until it
    finds bytes that look like an MPEG frame header (an ELF binary "decodes" to 0.05 s of noise).
    Judged by content alone, a file libsndfile accepts opens the same way by name."""
    with path.open("rb") as file:
        info = sf.info(file)
    frames: int | None = int(info.frames)
    if frames is not None and frames >= UNKNOWN_FRAMES:
        frames = None  # libsndfile cannot tell, and misreads such files (see the probe)
    rate = int(info.samplerate)
    return SourceInfo(
        rate,
        int(info.channels),
        frames,
        frames / rate if rate and frames is not None else None,
        f"{info.format}/{info.subtype}",
        "soundfile",
        truncation(str(getattr(info, "extra_info", ""))),
    )


def truncation(log: str) -> str | None:
    """The reason a file is cut short, from libsndfile's header log, if it is."""
    for chunk, declared, present in _SHORT_CHUNK.findall(log):
        if int(present) < int(declared) < _UNKNOWN_SIZE:
            return (
                f"the file is truncated: its {chunk} chunk declares {declared} bytes "
                f"but only {present} are present"
            )
    return None


class SoundfileDecoder:
    """Reads a file in float32 blocks of at most `block_frames`, so memory stays flat."""

    def __init__(self, path: Path, block_frames: int = BLOCK_FRAMES) -> None:
        self._file = sf.SoundFile(str(path))
        self.block_frames = block_frames
        self.frames_read = 0

    def read(self) -> Block | None:
        """The next (frames, channels) block, or None at the end."""
        block: Block = self._file.read(self.block_frames, dtype="float32", always_2d=True)
        if len(block) == 0:
            return None
        self.frames_read += len(block)
        return block

    def close(self) -> None:
        """Release the file (a blocking libsndfile call: run it in a worker thread).
        Closing twice is harmless."""
        self._file.close()

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)


class PcmAssembler:
    """Raw interleaved float32 bytes (any chunking) -> whole (frames, channels) blocks."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._frame_bytes = 4 * channels
        self._rest = b""

    def feed(self, data: bytes) -> Block:
        data = self._rest + data
        whole = len(data) - len(data) % self._frame_bytes
        self._rest = data[whole:]
        return np.frombuffer(data[:whole], dtype="<f4").reshape(-1, self.channels)

    @property
    def leftover(self) -> int:
        """Bytes of an incomplete last frame (non-zero at the end means a cut stream)."""
        return len(self._rest)
