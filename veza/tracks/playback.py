"""Playback tokens: what lets a player with none of our headers (VLC, Safari, ffplay) fetch one
track's HLS files, and the rules for which of those files exist.

A token is `{expires}.{signature}`: an HMAC over the track id and the expiry, carried in the
query of the master URL and written into every URI of the playlists served with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import trio

from veza.audio.hls import rewrite_uris
from veza.errors import Forbidden, NotFound

_TRACK_ID = re.compile(r"[0-9a-f]{24}")
_SEGMENT = re.compile(r"([0-9]{1,6})\.(mp3|aac)")
_EXPIRES = re.compile(r"[0-9]{1,12}")
SEGMENT_TYPES = {"mp3": "audio/mpeg", "aac": "audio/aac"}
MASTER = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"


def _signature(secret: str, track_id: str, expires: int) -> str:
    digest = hmac.new(
        secret.encode(), f"hls\x00{track_id}\x00{expires}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def sign(secret: str, track_id: str, expires: int) -> str:
    """A token granting playback of one track until `expires` (epoch seconds)."""
    return f"{expires}.{_signature(secret, track_id, expires)}"


def verify(secret: str, track_id: str, token: str, now: float) -> None:
    """Raise Forbidden unless `token` was made by `sign` for this track and has not expired;
    NotFound for a track id that cannot be one of ours."""
    if not _TRACK_ID.fullmatch(track_id):
        raise NotFound("no such track")
    expires_text, _, signature = token.partition(".")
    if not _EXPIRES.fullmatch(expires_text):
        raise Forbidden("the playback token is malformed")
    expected = _signature(secret, track_id, int(expires_text))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Forbidden("the playback token is not valid for this track")
    if int(expires_text) < now:
        raise Forbidden("the playback token has expired")


def signed_playlist(playlist: str, token: str) -> str:
    """The stored playlist with the token on every URI, so each request the player makes from
    it carries the token too."""
    return rewrite_uris(playlist, lambda uri: f"{uri}?token={token}")


def segment_name(segment: str) -> tuple[str, str]:
    """The canonical file name of a segment URI and its content type; NotFound for anything
    the segment writer cannot have written (no path, no stray digits, ASCII only)."""
    match = _SEGMENT.fullmatch(segment)
    if match is None:
        raise NotFound("no such segment")
    extension = match.group(2)
    return f"{int(match.group(1))}.{extension}", SEGMENT_TYPES[extension]


async def rendition_dir(hls: Path, rendition: str) -> Path:
    """The rendition's folder. Only a name the transcode itself created counts: the folders
    under the track's HLS folder (while a track is still transcoding, its row does not list
    them yet), so a client's string never builds a path."""
    folder = trio.Path(hls)
    names = [path.name for path in await folder.iterdir()] if await folder.is_dir() else []
    if rendition not in names or not await (folder / rendition).is_dir():
        raise NotFound("no such rendition")
    return hls / rendition
