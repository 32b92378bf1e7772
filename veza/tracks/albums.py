"""Albums and artists, derived from tags: an album is its album artist (or artist) and its
title, an artist the name credited on tracks. Their ids are hashes of those folded names
(veza/store/search.py), so they stay the same as long as the names do, with no table of their
own to keep in step. Everything here shows only what the caller's lists show
(veza/tracks/visibility.py): an album or artist none of whose tracks the caller sees is not
found."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import trio

from veza.accounts import Permission, Principal
from veza.errors import Forbidden, NotFound
from veza.store import Store
from veza.store.albums import ALBUM_SORTS, AlbumRow, ArtistRow
from veza.store.tracks import VISIBILITIES, Shown, Track
from veza.tracks import covers
from veza.tracks.covers import CoverFile, CoverLayout
from veza.tracks.visibility import listed_for

TOP_TRACKS = 10


@dataclass(frozen=True)
class Album:
    summary: AlbumRow
    tracks: list[Track]


@dataclass(frozen=True)
class Artist:
    summary: ArtistRow
    albums: list[AlbumRow]
    top_tracks: list[Track]


class Albums:
    def __init__(
        self, store: Store, layout: CoverLayout, cpu_limiter: trio.CapacityLimiter
    ) -> None:
        self._store = store
        self._layout = layout
        self._cpu_limiter = cpu_limiter

    async def albums(
        self,
        principal: Principal | None,
        sort: str,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[tuple[AlbumRow, tuple[Any, ...]]]:
        """Albums with a track the caller's lists show, in `sort` order (newest, name, artist,
        year, most_played), with each one's key."""
        found = await self._store.albums.albums(listed_for(principal), sort, after, limit)
        rows = await self._with_own_covers([row for row, _ in found])
        return [(row, key) for row, (_, key) in zip(rows, found, strict=True)]

    def cursor_shape(self, sort: str) -> tuple[type, ...]:
        return tuple(kind for _, _, kind in ALBUM_SORTS[sort])

    async def _with_own_covers(self, rows: list[AlbumRow]) -> list[AlbumRow]:
        """The rows, each saying whether the album has a cover of its own (one thread call
        for the whole page)."""
        directories = [self._layout.album_dir(row.id) for row in rows]

        def exist() -> list[bool]:
            return [directory.is_dir() for directory in directories]

        found = await trio.to_thread.run_sync(exist)
        return [replace(row, own_cover=own) for row, own in zip(rows, found, strict=True)]

    async def album(self, principal: Principal | None, album_id: str) -> Album:
        """An album with its tracks in disc and track order; NotFound when the caller sees
        none of them."""
        found = await self._store.albums.album(listed_for(principal), album_id)
        if found is None:
            raise NotFound("no such album")
        summary, tracks = found
        return Album((await self._with_own_covers([summary]))[0], tracks)

    async def artists(
        self, principal: Principal | None, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[ArtistRow, tuple[Any, ...]]]:
        return await self._store.albums.artists(listed_for(principal), after, limit)

    async def artist(self, principal: Principal | None, artist_id: str) -> Artist:
        """An artist, its albums (as album artist) and its top tracks: the most played, then
        the newest."""
        shown = listed_for(principal)
        summary = await self._store.albums.artist(shown, artist_id)
        if summary is None:
            raise NotFound("no such artist")
        albums = await self._store.albums.albums(shown, "year", None, 500, artist_id=artist_id)
        top = await self._store.albums.top_tracks(shown, artist_id, TOP_TRACKS)
        rows = await self._with_own_covers([row for row, _ in albums])
        return Artist(summary, rows, top)

    async def set_cover(self, principal: Principal, album_id: str, image: bytes) -> None:
        """A cover for the album, by an owner of one of its tracks, a moderator or an admin."""
        directory = self._layout.album_dir(album_id)
        await self.album(principal, album_id)  # NotFound unless the caller sees it
        if not principal.can(Permission.MODERATE):
            mine = await self._store.albums.album(Shown((), principal.user.id), album_id)
            if mine is None:
                raise Forbidden(
                    "only the owner of one of the album's tracks, a moderator or an admin may "
                    "change its cover"
                )
        rendered = await trio.to_thread.run_sync(covers.render, image, limiter=self._cpu_limiter)
        await trio.to_thread.run_sync(covers.save, directory, rendered)

    async def cover(
        self, principal: Principal | None, album_id: str, size: int | None
    ) -> CoverFile:
        """The album's own cover, else that of its first track (in album order) that has one;
        NotFound when there is none."""
        directory = self._layout.album_dir(album_id)
        album = await self.album(principal, album_id)
        found = await trio.to_thread.run_sync(covers.load, directory, size)
        if found is None and album.summary.cover_track_id is not None:
            track_dir = self._layout.track_dir(album.summary.cover_track_id)
            found = await trio.to_thread.run_sync(covers.load, track_dir, size)
        if found is None:
            raise NotFound("the album has no cover")
        return found


__all__ = ["VISIBILITIES", "Album", "AlbumRow", "Albums", "Artist", "ArtistRow"]
