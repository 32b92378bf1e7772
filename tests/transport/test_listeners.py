"""Connections waiting to be accepted are taken in one burst, not one per scheduler pass (a
burst of players connecting at once waited seconds to be accepted; docs/benchmarks.md)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import trio

from veza.transport.listeners import EagerListener


async def listening_socket() -> trio.socket.SocketType:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def connect(sock: trio.socket.SocketType, count: int) -> list[socket.socket]:
    """Clients whose connections the kernel has completed, waiting to be accepted."""
    address = sock.getsockname()
    return [socket.create_connection(address, timeout=5) for _ in range(count)]


async def passes_while_accepting(
    make: Callable[[trio.socket.SocketType], trio.abc.Listener[trio.SocketStream]], count: int
) -> int:
    """How many scheduler passes went by while `count` waiting connections were accepted."""
    sock = await listening_socket()
    clients = connect(sock, count)
    passes = 0

    async def count_passes() -> None:
        nonlocal passes
        while True:
            passes += 1
            await trio.lowlevel.checkpoint()

    listener = make(sock)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(count_passes)
            await trio.lowlevel.checkpoint()
            before = passes
            streams = [await listener.accept() for _ in range(count)]
            used = passes - before
            nursery.cancel_scope.cancel()
        for stream in streams:
            await stream.aclose()
    finally:
        await listener.aclose()
        for client in clients:
            client.close()
    return used


async def test_a_burst_of_waiting_connections_is_taken_in_one_pass() -> None:
    assert await passes_while_accepting(EagerListener, 100) <= 3
    # Trio's own listener yields after every connection: what the test tells apart.
    assert await passes_while_accepting(trio.SocketListener, 100) >= 90


async def test_closing_the_listener_closes_the_connections_it_took_but_did_not_hand_out() -> None:
    sock = await listening_socket()
    clients = connect(sock, 5)
    listener = EagerListener(sock)
    first = await listener.accept()  # the other four are taken with it
    await listener.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await listener.accept()
    for client in clients[1:]:
        assert client.recv(1) == b""  # closed by the server's side
    await first.aclose()
    for client in clients:
        client.close()
