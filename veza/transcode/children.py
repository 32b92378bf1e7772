"""Child processes owned by the caller: started, and always killed and reaped on the way out."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import trio

from veza.audio.ffmpeg import stderr_tail
from veza.transcode.result import TranscodeError

_TAIL_BYTES = 8192
_PIPE_BYTES = 1 << 20


@asynccontextmanager
async def child_process(
    argv: Sequence[str], *, stdout: int = subprocess.PIPE
) -> AsyncIterator[trio.Process]:
    """A process with piped stdout and stderr (no stdin) that never outlives the block.
    `stdout`: a file descriptor to give it instead (see `OutputPipe`)."""
    try:
        proc = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise TranscodeError(f"cannot start {argv[0]}: {exc}") from None
    fileno = getattr(proc.stdout, "fileno", None)  # trio's pipe streams have one
    if fileno is not None:
        _grow_pipe(fileno())
    try:
        yield proc
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    await stream.aclose()


class OutputPipe:
    """A 1 MiB pipe for a child's stdout, read with blocking calls in a worker thread
    (`read_in_thread`; a Trio stream would make it non-blocking). Give the child `write_end`,
    then call `child_has_it`: the child's copy must be the only one, so that its exit ends
    the reads. Use it as a context manager: both ends are closed on the way out."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        _grow_pipe(self.read_end)
        self._open = [self.read_end, self.write_end]

    def child_has_it(self) -> None:
        self._close(self.write_end)

    def _close(self, fd: int) -> None:
        if fd in self._open:  # never twice: the number may belong to another file by then
            self._open.remove(fd)
            os.close(fd)

    def __enter__(self) -> OutputPipe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for fd in list(self._open):
            self._close(fd)


async def read_in_thread(proc: trio.Process, work: Callable[[], None]) -> None:
    """Run `work` (blocking reads of `proc`'s output until its end) in a worker thread of its
    own, not holding the transcode's limiter: it mostly waits. A thread cannot be cancelled,
    so a cancellation while it runs kills `proc` (its output ends, and `work` with it)."""
    reading = True

    async def kill_when_cancelled() -> None:
        try:
            await trio.sleep_forever()
        finally:
            if reading:
                proc.kill()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kill_when_cancelled)
        try:
            await trio.to_thread.run_sync(work)
        finally:
            reading = False
            nursery.cancel_scope.cancel()


def _grow_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: output moves in fewer, larger reads (fewer wake-ups)."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


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
