"""The floor of Veza's stack: a bare Quart-Trio WebSocket broadcaster on Hypercorn's trio worker.

python bench/peers/quart_broadcast.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import websocket
from quart_trio import QuartTrio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peers.broadcast import Room

app = QuartTrio("peer")
room = Room()


@app.websocket("/ws")
async def ws() -> None:
    await websocket.accept()
    queue, outbound = room.join()

    async def write() -> None:
        async for text in outbound:
            await websocket.send(text)
        nursery.cancel_scope.cancel()  # dropped from the room: end the connection

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            while True:
                text = await websocket.receive()
                room.receive(text if isinstance(text, str) else text.decode(), queue)
    finally:
        room.leave(queue)


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    config.backlog = 2048
    config.websocket_max_message_size = 65_536
    print(f"listening on http://127.0.0.1:{sys.argv[1]}", flush=True)
    trio.run(serve, app, config)


if __name__ == "__main__":
    main()
