"""What both peers share: one room of sockets, each behind a bounded queue drained by its own
writer, and the frames they exchange. A peer does only the broadcast: no authentication, no
store, no validation beyond reading the JSON; it stands for the floor (Quart-Trio) or the
ceiling (trio-websocket) of what Veza's hub can do on the same core."""

from __future__ import annotations

import json
from typing import Any

import trio

QUEUE_SIZE = 256  # frames waiting for one socket, as Veza's ws_outbound_queue_size


class Room:
    """Every connected socket's queue; a socket whose queue is full is dropped, like Veza's."""

    def __init__(self) -> None:
        self._queues: set[trio.MemorySendChannel[str]] = set()
        self._seq = 0

    def join(self) -> tuple[trio.MemorySendChannel[str], trio.MemoryReceiveChannel[str]]:
        send, receive = trio.open_memory_channel[str](QUEUE_SIZE)
        self._queues.add(send)
        return send, receive

    def leave(self, queue: trio.MemorySendChannel[str]) -> None:
        self._queues.discard(queue)
        queue.close()

    def receive(self, text: str, own: trio.MemorySendChannel[str]) -> None:
        """One client frame: a `send` is acknowledged and broadcast, encoded once."""
        frame: dict[str, Any] = json.loads(text)
        if frame.get("type") != "send":
            return
        self._seq += 1
        message = {
            "id": str(self._seq),
            "conversation_id": frame.get("conversation_id"),
            "seq": self._seq,
            "sender_id": "peer",
            "body": frame.get("body"),
            "client_id": frame.get("client_id"),
        }
        self._offer(own, json.dumps({"type": "ack", "client_id": frame.get("client_id")}))
        out = json.dumps({"type": "message", "message": message})
        for queue in tuple(self._queues):
            self._offer(queue, out)

    def _offer(self, queue: trio.MemorySendChannel[str], text: str) -> None:
        try:
            queue.send_nowait(text)
        except (trio.WouldBlock, trio.ClosedResourceError):
            self.leave(queue)  # its writer ends, and the connection with it
