"""The reference ceiling: a bare trio-websocket broadcaster, no ASGI, no framework.

python bench/peers/trio_websocket_broadcast.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peers.broadcast import Room

room = Room()


async def handle(request: WebSocketRequest) -> None:
    socket = await request.accept()
    queue, outbound = room.join()

    async def write() -> None:
        try:
            async for text in outbound:
                await socket.send_message(text)
        except ConnectionClosed:
            pass
        nursery.cancel_scope.cancel()  # dropped from the room, or gone: end the connection

    async def read() -> None:
        try:
            while True:
                text = await socket.get_message()
                room.receive(text if isinstance(text, str) else text.decode(), queue)
        except ConnectionClosed:
            pass
        nursery.cancel_scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            nursery.start_soon(read)
    finally:
        room.leave(queue)


async def main(port: int) -> None:
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await serve_websocket(handle, "127.0.0.1", port, ssl_context=None, max_message_size=65_536)


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]))
