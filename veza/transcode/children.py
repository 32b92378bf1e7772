"""Child processes owned by the caller: started, and always killed and reaped on the way out."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from veza.audio.ffmpeg import stderr_tail
from veza.transcode.result import TranscodeError

_TAIL_BYTES = 8192


@asynccontextmanager
async def child_process(argv: Sequence[str], *, stdin: bool) -> AsyncIterator[trio.Process]:
    """A process with piped stdout/stderr (and stdin if asked) that never outlives the block."""
    try:
        proc = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise TranscodeError(f"cannot start {argv[0]}: {exc}") from None
    try:
        yield proc
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    await stream.aclose()


class StderrTail:
    """Keeps the last few KiB a child writes on stderr, for its error message."""

    def __init__(self) -> None:
        self._data = bytearray()

    async def collect(self, stream: trio.abc.ReceiveStream) -> None:
        async for chunk in stream:
            self._data += chunk
            del self._data[:-_TAIL_BYTES]

    def text(self) -> str:
        return stderr_tail(bytes(self._data))
