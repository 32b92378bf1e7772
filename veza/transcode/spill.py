"""The analysis pass's decoded audio, kept on disk for the encoding pass (no second decode).

The analysis pass writes every house-format block it measures (float32 stereo at 44.1 kHz,
before the gain, which that pass decides) to a hidden temporary file in the output folder; the
encoding pass gives that file to FFmpeg's encoder children, which read it themselves and apply
the gain (`-af volume`, bit-identical to scaling the blocks in float32), so the Python process
neither decodes the source again nor writes PCM down pipes. LAME (no FFmpeg) reads it back in
blocks. The file costs 8 bytes a frame (about 1.3 GB an hour of audio) of disk while the track
is transcoded, nothing in memory: it is written and read in blocks, and lives in the page
cache only as the kernel sees fit.

Every method is a blocking file operation: call them in worker threads.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from veza.audio.decode import BLOCK_FRAMES
from veza.audio.pcm import CHANNELS, f32le_view, scaled
from veza.audio.resample import Block
from veza.files import TMP_SUFFIX
from veza.transcode.result import TranscodeError

_FRAME_BYTES = 4 * CHANNELS


class DecodedAudio:
    """One track's decoded audio in a temporary file: written once in order, then read by
    every encoder of the encoding pass."""

    def __init__(self, directory: Path) -> None:
        # Hidden and suffixed like every temporary file (veza.files), so a crash's leftover
        # is removed when the folder is next prepared.
        self.path = directory / f".decoded.{secrets.token_hex(4)}.f32{TMP_SUFFIX}"
        self.frames = 0
        self._file: int | None = None

    def create(self) -> None:
        try:
            self._file = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _unwritable(exc) from None

    def restart(self) -> None:
        """Forget what was written (a decode given up half-way, to be done by another reader)."""
        assert self._file is not None
        os.ftruncate(self._file, 0)
        os.lseek(self._file, 0, os.SEEK_SET)
        self.frames = 0

    def write(self, block: Block) -> None:
        """Append a house-format block as `scaled` makes it (the float32 encoders read)."""
        assert self._file is not None
        view = f32le_view(block)
        try:
            while view:
                view = view[os.write(self._file, view) :]
        except OSError as exc:
            raise _unwritable(exc) from None
        self.frames += len(block)

    def finish_writing(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def reader(self, gain: float = 1.0) -> BlockReader:
        """The audio again, block by block, times `gain` (what LAME encodes)."""
        return BlockReader(self.path, gain)

    def remove(self) -> None:
        """Close and delete the file (harmless twice, and when it was never created)."""
        self.finish_writing()
        self.path.unlink(missing_ok=True)


class BlockReader:
    """Reads a `DecodedAudio` file back in house-format blocks (blocking calls)."""

    def __init__(self, path: Path, gain: float) -> None:
        self._file = path.open("rb", buffering=0)
        self._gain = gain

    def read(self) -> Block | None:
        """The next block (a fresh array, scaled by the gain), or None at the end."""
        block = np.empty((BLOCK_FRAMES, CHANNELS), dtype="<f4")
        got = self._file.readinto(f32le_view(block)) or 0
        if got == 0:
            return None
        return scaled(block[: got // _FRAME_BYTES], self._gain)

    def close(self) -> None:
        self._file.close()


def _unwritable(exc: OSError) -> TranscodeError:
    return TranscodeError(f"cannot keep the decoded audio: {exc.strerror or exc}")
