"""Accepting connections in bursts.

Trio's `SocketListener.accept` takes one connection and then yields to the scheduler, and
Hypercorn's trio worker accepts in a loop around it: one connection per pass of the scheduler.
While the server is busy, a pass runs every task that is ready (hundreds of requests), so when
many players connect at once (500 reconnecting after a restart) the last of them waited seconds
just to be accepted: with 500 connections opened together, raw Hypercorn's p99 was 3.9 s where
uvicorn's, which accepts everything waiting at each wake-up, was 0.7 s (docs/benchmarks.md,
"Serving"). `EagerListener` takes every connection already waiting (up to `MAX_BURST`) whenever
it accepts one, and hands them out without yielding in between.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from types import ModuleType
from typing import Any

import trio

MAX_BURST = 128  # connections taken at once; more wait for the next pass


class EagerListener(trio.abc.Listener[trio.SocketStream]):
    """A `trio.SocketListener` that takes a burst of waiting connections at a time."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self._listener = trio.SocketListener(sock)
        self.socket = self._listener.socket
        # The same listening socket through a second descriptor, for accept() without a
        # checkpoint. Non-blocking, as Trio set it (the flag belongs to the socket, not the fd).
        self._raw = socket.socket(fileno=os.dup(sock.fileno()))
        self._raw.setblocking(False)
        self._waiting: deque[trio.SocketStream] = deque()

    async def accept(self) -> trio.SocketStream:
        if self._waiting:
            return self._waiting.popleft()  # taken in this pass already
        stream = await self._listener.accept()
        self._take_waiting()
        return stream

    def _take_waiting(self) -> None:
        while len(self._waiting) < MAX_BURST:
            try:
                accepted, _ = self._raw.accept()
            except OSError:
                return  # nothing waiting (EAGAIN), or an error the next accept() will meet
            self._waiting.append(trio.SocketStream(trio.socket.from_stdlib_socket(accepted)))

    async def aclose(self) -> None:
        while self._waiting:
            self._waiting.popleft().socket.close()
        self._raw.close()
        await self._listener.aclose()


class _TrioWithEagerListeners(ModuleType):
    """The `trio` module as Hypercorn's trio worker sees it: the same, but for the listener it
    wraps the listening sockets in."""

    SocketListener = EagerListener

    def __getattr__(self, name: str) -> Any:
        return getattr(trio, name)


def install_eager_listeners(module: ModuleType) -> None:
    """Have `module` (Hypercorn's `hypercorn.trio.run`, which names `trio.SocketListener`)
    listen with `EagerListener`."""
    current = getattr(module, "trio", None)
    if isinstance(current, _TrioWithEagerListeners):
        return
    if current is not trio:
        raise RuntimeError(f"{module.__name__} no longer uses trio.SocketListener here")
    module.trio = _TrioWithEagerListeners("trio")  # type: ignore[attr-defined]
