"""The WebSocket edge, `GET /ws`: one socket per client carrying chat, typing, receipts,
presence and live events (docs/websocket.md).

- `protocol.py`: the vocabulary, every client and server frame as a validated class;
- `hub.py`: the live sockets of this process, the owners they share, the endpoint;
- `connection.py`: one socket's authentication and its nursery (reader, writer, heartbeat,
  forwarder of bus events);
- `outbound.py`: the one bounded queue of frames waiting for a socket's writer.
"""

from veza.transport.ws.hub import Hub, install_websocket, websocket_hub

__all__ = ["Hub", "install_websocket", "websocket_hub"]
