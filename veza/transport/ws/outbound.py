"""The one bounded queue between everything that produces frames for a socket and its writer.

Producers never wait: `put` takes a frame or, when the queue is full, closes the socket with
1013 (the client cannot keep up; it reconnects and resumes from the store). `close` drops what
is still queued and has the writer send the close frame next, so a shutdown or a revoked session
is not stuck behind a backlog. Memory per socket is therefore bounded by `size` frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import trio

TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Delivered:
    """A message frame: once written, its conversation is delivered up to `seq` for the socket's
    user (the hub coalesces those receipts)."""

    conversation_id: str
    seq: int


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


class Outbound:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an outbound queue holds at least one frame")
        self.size = size
        self._frames: deque[tuple[str, Delivered | None]] = deque()
        self._closing: Close | None = None
        self._wake = trio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def closing(self) -> Close | None:
        return self._closing

    def put(self, text: str, delivered: Delivered | None = None) -> bool:
        """Queue one encoded frame; False (and the socket closing with 1013) if it is full.
        After a close, frames are dropped."""
        if self._closing is not None:
            return False
        if len(self._frames) >= self.size:
            self.close(TRY_AGAIN_LATER, "too slow: the client did not keep up")
            return False
        self._frames.append((text, delivered))
        self._wake.set()
        return True

    def close(self, code: int, reason: str) -> None:
        """Close with `code`: what is queued is dropped; the first close wins."""
        if self._closing is None:
            self._closing = Close(code, reason)
            self._frames.clear()
            self._wake.set()

    async def get(self) -> tuple[str, Delivered | None] | Close:
        """The next frame to write, or the Close once closing."""
        while True:
            if self._closing is not None:
                return self._closing
            if self._frames:
                return self._frames.popleft()
            self._wake = trio.Event()
            await self._wake.wait()
