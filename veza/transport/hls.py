"""HLS delivery: playlists and segments, authorised by a signed token carried in the query of
every URI, so players that send no headers of ours (VLC, Safari, ffplay) can play."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import trio
from quart import Blueprint, Response, request
from quart_schema import hide

from veza.audio.hls import rewrite_uris
from veza.errors import Forbidden, NotFound
from veza.transport.context import services

blueprint = Blueprint("hls", __name__)

_TRACK_ID = re.compile(r"[0-9a-f]{24}")
_SEGMENT = re.compile(r"([0-9]{1,6})\.(mp3|aac)")
_EXPIRES = re.compile(r"[0-9]{1,12}")
_CONTENT_TYPES = {"mp3": "audio/mpeg", "aac": "audio/aac"}


def _signature(secret: str, track_id: str, expires: int) -> str:
    digest = hmac.new(
        secret.encode(), f"hls\x00{track_id}\x00{expires}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def sign(secret: str, track_id: str, expires: int) -> str:
    """A token granting playback of one track until `expires` (epoch seconds)."""
    return f"{expires}.{_signature(secret, track_id, expires)}"


def verify(secret: str, track_id: str, token: str, now: float) -> None:
    """Raise Forbidden unless `token` was made by `sign` for this track and has not expired."""
    expires_text, _, signature = token.partition(".")
    if not _EXPIRES.fullmatch(expires_text):
        raise Forbidden("the playback token is malformed")
    expected = _signature(secret, track_id, int(expires_text))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Forbidden("the playback token is not valid for this track")
    if int(expires_text) < now:
        raise Forbidden("the playback token has expired")


def with_token(playlist: str, token: str) -> str:
    """The stored playlist with the token on every URI, so each request the player makes from
    it carries the token too."""
    return rewrite_uris(playlist, lambda uri: f"{uri}?token={token}")


def _authorised(track_id: str) -> tuple[str, trio.Path]:
    """Check the token; return it and the track's HLS folder."""
    if not _TRACK_ID.fullmatch(track_id):
        raise NotFound("no such track")
    token = request.args.get("token", "")
    verify(services().secret, track_id, token, time.time())
    return token, trio.Path(services().library.hls_dir(track_id))


async def _rendition_dir(hls: trio.Path, rendition: str) -> trio.Path:
    # Only a name the transcode itself created: the folders under the track's HLS folder
    # (while a track is still transcoding, its row does not list them yet).
    names = [path.name for path in await hls.iterdir()] if await hls.is_dir() else []
    if rendition not in names or not await (hls / rendition).is_dir():
        raise NotFound("no such rendition")
    return hls / rendition


async def _read(path: trio.Path) -> bytes:
    try:
        return await path.read_bytes()
    except FileNotFoundError:
        raise NotFound("no such file") from None


def _playlist(text: str, token: str, *, final: bool) -> Response:
    response = Response(with_token(text, token), content_type="application/vnd.apple.mpegurl")
    response.headers["Cache-Control"] = "private, max-age=3600" if final else "no-cache"
    return response


@blueprint.get("/hls/<track_id>/master.m3u8")
@hide
async def master_playlist(track_id: str) -> Response:
    token, hls = _authorised(track_id)
    return _playlist((await _read(hls / "master.m3u8")).decode(), token, final=True)


@blueprint.get("/hls/<track_id>/<rendition>/index.m3u8")
@hide
async def media_playlist(track_id: str, rendition: str) -> Response:
    token, hls = _authorised(track_id)
    text = (await _read(await _rendition_dir(hls, rendition) / "index.m3u8")).decode()
    return _playlist(text, token, final="#EXT-X-ENDLIST" in text)


@blueprint.get("/hls/<track_id>/<rendition>/<segment>")
@hide
async def segment_file(track_id: str, rendition: str, segment: str) -> Response:
    _, hls = _authorised(track_id)
    match = _SEGMENT.fullmatch(segment)
    if match is None:
        raise NotFound("no such segment")
    number, extension = int(match.group(1)), match.group(2)
    path = await _rendition_dir(hls, rendition) / f"{number}.{extension}"
    # Segments are small and immutable: one read in a thread, sent as one body.
    response = Response(await _read(path), content_type=_CONTENT_TYPES[extension])
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
