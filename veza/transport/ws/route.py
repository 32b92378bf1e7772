"""`GET /ws` as the HTTP API sees it: the WebSocket handshake itself never reaches Quart (the
endpoint in hub.py takes it first), so this route answers only a plain request, one without
the upgrade, with 426 in the error shape; and it is where the OpenAPI document describes the
socket."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import tag_blueprint

from veza.errors import UpgradeRequired
from veza.transport.guard import public
from veza.transport.openapi import errors, responds

blueprint = Blueprint("websocket", __name__)
tag_blueprint(blueprint, ["websocket"])

SWITCHING = (
    "Switching Protocols: the WebSocket handshake succeeded (`Connection: Upgrade`,"
    " `Upgrade: websocket`). Then the first frame is `auth` unless an `Authorization: Bearer`"
    " header came with the handshake, and the server answers `ready`."
)
PLAIN = "a plain GET, without `Upgrade: websocket`: nothing to talk to over HTTP"


@blueprint.get("/ws")
@public
@responds(101, SWITCHING)
@errors(426, why={426: f"upgrade_required: {PLAIN}"})
async def websocket() -> Response:
    """The live socket (WebSocket): chat, typing, receipts, presence, events.

    One WebSocket per client carries the chat (messages and their acks, typing indicators,
    delivered and read receipts), presence, and the user's own events (a track's transcode, a
    playlist's changes). Every frame is one JSON text object with a `type`; authentication is
    by access token (an `Authorization: Bearer` header on the handshake, or a first `auth`
    frame within 5 seconds). A browser's handshake whose `Origin` is neither this server's
    nor one of `cors_origins` is refused before the upgrade: 403 with an empty body.

    The protocol, every frame with its fields, the close codes, the bounds and the ordering
    and delivery rules, is documented in `docs/websocket.md` in Veza's source tree.
    """
    raise UpgradeRequired("GET /ws is a WebSocket: ask with Upgrade: websocket")
