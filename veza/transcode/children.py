"""Child processes owned by the caller: started, and always killed and reaped on the way out."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from veza.audio.ffmpeg import stderr_tail
from veza.transcode.result import TranscodeError

_TAIL_BYTES = 8192
_PIPE_BYTES = 1 << 20


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
    for stream in (proc.stdin, proc.stdout):
        _grow_pipe(stream)
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


def _grow_pipe(stream: object) -> None:
    """A 1 MiB pipe instead of 64 KiB: PCM moves in fewer, larger writes (fewer wake-ups)."""
    fileno = getattr(stream, "fileno", None)
    if fileno is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


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
