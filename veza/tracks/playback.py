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
from collections.abc import Mapping
from dataclasses import dataclass

from veza.audio.hls import rewrite_uris
from veza.audio.ladder import Rendition, parse_rendition
from veza.errors import Forbidden, NotFound
from veza.store.tracks import READY, Track

_TRACK_ID = re.compile(r"[0-9a-f]{24}")
_SEGMENT = re.compile(r"([0-9]{1,6})\.(mp3|aac)")
_EXPIRES = re.compile(r"[0-9]{1,12}")
SEGMENT_TYPES = {"mp3": "audio/mpeg", "aac": "audio/aac"}
# One master per codec family, so players can switch between its variants.
MASTERS = {"aac": "master.m3u8", "mp3": "master-mp3.m3u8"}
MEDIA_PLAYLIST = "index.m3u8"
_PREVIOUS_RENDITION = re.compile(r"(aac|mp3)_[0-9]{1,3}")


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


_SLOT = "\x00"  # where a token goes; a NUL is never part of a playlist's text


@dataclass(frozen=True)
class SignablePlaylist:
    """A stored playlist made ready for signing: the parsing done once, the token joined in
    per request (`signed`), so a playlist kept in memory costs a join to hand out."""

    parts: tuple[bytes, ...]
    size: int
    ended: bool  # it has its EXT-X-ENDLIST: a media playlist that will not grow any more

    def signed(self, token: str) -> bytes:
        return token.encode().join(self.parts)


def signable(playlist: str) -> SignablePlaylist:
    """`signed_playlist` cut at the places its token goes."""
    if _SLOT in playlist:  # not one of ours; never mistake its bytes for a token's place
        raise NotFound("no such playlist")
    parts = tuple(p.encode() for p in signed_playlist(playlist, _SLOT).split(_SLOT))
    ended = "#EXT-X-ENDLIST" in playlist
    return SignablePlaylist(parts, sum(len(p) for p in parts), ended)


def segment_name(segment: str) -> tuple[str, str]:
    """The canonical file name of a segment URI and its content type; NotFound for anything
    the segment writer cannot have written (no path, no stray digits, ASCII only)."""
    match = _SEGMENT.fullmatch(segment)
    if match is None:
        raise NotFound("no such segment")
    extension = match.group(2)
    return f"{int(match.group(1))}.{extension}", SEGMENT_TYPES[extension]


def generations_served(track: Track) -> tuple[int, ...]:
    """The generations whose files may be fetched: the one being written, the one that plays,
    and the one before it (kept until the next, so a player that started on it finishes)."""
    served = [track.building_generation] if track.building_generation else []
    if track.status == READY:
        served += [track.generation, track.generation - 1]
    return tuple(g for g in served if g >= 0)


def has_rendition(track: Track, generation: int, rendition: str) -> bool:
    """Whether `rendition` is part of that generation, from the track's row alone (no
    directory listing): the ladder a transcode recorded when it started, or the renditions a
    finished one measured. A client's string never reaches a path unless it is one of them."""
    return served_files(track).has_rendition(generation, rendition)


@dataclass(frozen=True)
class ServedFiles:
    """Which of a track's HLS files may be fetched, worked out once from its row: what the
    check of every HLS request needs, small enough to keep in memory between requests."""

    track_id: str
    # Generation -> its rendition names; None: the generation before the one that plays (its
    # names are not in the row any more: any name of the form the writer uses).
    renditions: Mapping[int, frozenset[str] | None]
    # Generations whose files never change again: finished ones (the one that plays and the
    # one before it). A generation being written may be started over by a retried job.
    settled: frozenset[int]

    def has_generation(self, generation: int) -> bool:
        return generation in self.renditions

    def has_rendition(self, generation: int, rendition: str) -> bool:
        if generation not in self.renditions:
            return False
        names = self.renditions[generation]
        if names is None:
            return _PREVIOUS_RENDITION.fullmatch(rendition) is not None
        return rendition in names

    def is_settled(self, generation: int) -> bool:
        return generation in self.settled


def served_files(track: Track) -> ServedFiles:
    renditions: dict[int, frozenset[str] | None] = {}
    settled: set[int] = set()
    for generation in generations_served(track):
        if generation == track.building_generation:
            names = frozenset(r.name for r in parse_ladder(track.building_ladder or ""))
            renditions[generation] = names
            continue
        settled.add(generation)
        if generation == track.generation:
            renditions[generation] = frozenset(r["name"] for r in track.renditions)
        else:
            renditions[generation] = None
    return ServedFiles(track.id, renditions, frozenset(settled))


def parse_ladder(spec: str) -> tuple[Rendition, ...]:
    return tuple(parse_rendition(entry) for entry in spec.split(",") if entry)


def masters(track: Track, generation: int) -> list[str]:
    """The master playlists of a generation: one per codec family of its ladder."""
    if generation == track.building_generation:
        codecs = {r.codec for r in parse_ladder(track.building_ladder or "")}
    else:
        codecs = {r["codec"] for r in track.renditions}
    return [name for codec, name in MASTERS.items() if codec in codecs]
