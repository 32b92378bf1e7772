"""Albums and artists: not rows of their own but groups of track rows, by the ids derived from
the tags when a track is written (veza/store/search.py), over the tracks a list may include."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from veza.store.database import Executor
from veza.store.tracks import Shown, Track, after_condition, shown_condition


@dataclass(frozen=True)
class AlbumRow:
    id: str
    title: str
    artist: str
    artist_id: str
    year: int | None
    genre: str
    tracks: int
    duration_s: float
    newest: float
    cover_track_id: str | None  # a track of the album that has a cover, in album order
    own_cover: bool = False  # an album cover was uploaded (the files say; see tracks/albums.py)


@dataclass(frozen=True)
class ArtistRow:
    id: str
    name: str
    albums: int
    tracks: int


# An album's cursor keys, by sort (column of the grouped rows, descending, type); most_played
# counts the plays of every listener (veza/store/stats.py), ties newest first.
ALBUM_SORTS: dict[str, tuple[tuple[str, bool, type], ...]] = {
    "newest": (("newest", True, float), ("id", True, str)),
    "name": (("title_key", False, str), ("id", False, str)),
    "artist": (("artist_key", False, str), ("title_key", False, str), ("id", False, str)),
    "year": (("year_key", True, int), ("title_key", False, str), ("id", False, str)),
    "most_played": (("plays", True, int), ("newest", True, float), ("id", True, str)),
}

# A track's place in its album: disc, then number (unnumbered last), then title.
ALBUM_ORDER = "COALESCE(disc_number, 1), COALESCE(track_number, 2147483647), title_key, id"

_GROUPED = """SELECT album_id AS id, MIN(album) AS title, MIN(album_key) AS title_key,
        MIN(CASE WHEN album_artist <> '' THEN album_artist ELSE artist END) AS artist,
        MIN(album_artist_key) AS artist_key, MIN(album_artist_id) AS artist_id,
        MAX(year) AS year, COALESCE(MAX(year), 0) AS year_key, MAX(genre) AS genre,
        COUNT(*) AS tracks, COALESCE(SUM(duration_s), 0) AS duration_s,
        MAX(created_at) AS newest, {plays} AS plays
    FROM tracks {join} WHERE {where} GROUP BY album_id"""

# Plays counted per track, over every listener and all time: read only for the sorts by plays.
_PLAYS = "SELECT track_id, SUM(counted) AS plays FROM listens GROUP BY track_id"
_PLAYS_JOIN = f"LEFT JOIN ({_PLAYS}) AS played ON played.track_id = tracks.id"


def _grouped(where: str, *, plays: bool = False) -> str:
    """Albums as groups of the track rows matching `where`; with `plays`, their play counts."""
    if plays:
        return _GROUPED.format(
            plays="COALESCE(SUM(played.plays), 0)", join=_PLAYS_JOIN, where=where
        )
    return _GROUPED.format(plays="0", join="", where=where)


class AlbumRepository:
    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def albums(
        self,
        shown: Shown,
        sort: str,
        after: Sequence[Any] | None,
        limit: int,
        *,
        artist_id: str | None = None,
    ) -> list[tuple[AlbumRow, tuple[Any, ...]]]:
        """Albums having a track `shown` includes, each summarised over those tracks only."""
        conditions, params = shown_condition(shown)
        conditions.append("album_id <> ''")
        if artist_id is not None:
            conditions.append("album_artist_id = ?")
            params.append(artist_id)
        keys = ALBUM_SORTS[sort]
        outer, outer_params = after_condition([(c, d) for c, d, _ in keys], after)
        order = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d, _ in keys)
        grouped = _grouped(" AND ".join(conditions), plays=sort == "most_played")
        rows = await self._db.fetch_all(
            f"""SELECT * FROM ({grouped}) AS albums
                WHERE {outer} ORDER BY {order} LIMIT ?""",
            (*params, *outer_params, limit),
        )
        covers = await self._covers(shown, [row["id"] for row in rows])
        return [
            (_album(row, covers.get(row["id"])), tuple(kind(row[c]) for c, _, kind in keys))
            for row in rows
        ]

    async def album(self, shown: Shown, album_id: str) -> tuple[AlbumRow, list[Track]] | None:
        """An album and its tracks that `shown` includes, in disc and track order; None when
        it has none."""
        conditions, params = shown_condition(shown)
        where = " AND ".join([*conditions, "album_id = ?"])
        rows = await self._db.fetch_all(
            f"SELECT * FROM tracks WHERE {where} ORDER BY {ALBUM_ORDER}", (*params, album_id)
        )
        if not rows:
            return None
        summary = await self._db.fetch_one(_grouped(where), (*params, album_id))
        assert summary is not None
        tracks = [Track.from_row(row) for row in rows]
        cover = next((t.id for t in tracks if t.cover is not None), None)
        return _album(summary, cover), tracks

    async def _covers(self, shown: Shown, album_ids: list[str]) -> dict[str, str]:
        """For each album, its first track (in album order) that has a cover."""
        if not album_ids:
            return {}
        conditions, params = shown_condition(shown)
        marks = ", ".join("?" for _ in album_ids)
        rows = await self._db.fetch_all(
            f"""SELECT album_id, id FROM tracks
                WHERE {" AND ".join(conditions)} AND cover IS NOT NULL AND album_id IN ({marks})
                ORDER BY {ALBUM_ORDER}""",
            (*params, *album_ids),
        )
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(row["album_id"], row["id"])
        return found

    async def artists(
        self, shown: Shown, after: Sequence[Any] | None, limit: int
    ) -> list[tuple[ArtistRow, tuple[Any, ...]]]:
        """Artists credited on a track `shown` includes (as its artist or its album artist),
        by name."""
        conditions, params = shown_condition(shown)
        where = " AND ".join(conditions)
        outer, outer_params = after_condition([("name_key", False), ("id", False)], after)
        rows = await self._db.fetch_all(
            f"""SELECT id, MIN(name) AS name, MIN(name_key) AS name_key,
                    COUNT(DISTINCT track_id) AS tracks,
                    COUNT(DISTINCT CASE WHEN album_id <> '' THEN album_id END) AS albums
                FROM (
                    SELECT artist_id AS id, artist AS name, artist_key AS name_key,
                        id AS track_id,
                        CASE WHEN album_artist_id = artist_id THEN album_id ELSE '' END
                            AS album_id
                    FROM tracks WHERE {where} AND artist_id <> ''
                    UNION ALL
                    SELECT album_artist_id, album_artist, album_artist_key, id, album_id
                    FROM tracks WHERE {where} AND album_artist_id <> ''
                        AND album_artist_id <> artist_id
                ) AS credits
                GROUP BY id HAVING {outer.replace("name_key", "MIN(name_key)")}
                ORDER BY MIN(name_key), id LIMIT ?""",
            (*params, *params, *outer_params, limit),
        )
        return [
            (
                ArtistRow(row["id"], row["name"], int(row["albums"]), int(row["tracks"])),
                (row["name_key"], row["id"]),
            )
            for row in rows
        ]

    async def top_tracks(self, shown: Shown, artist_id: str, limit: int) -> list[Track]:
        """The artist's tracks (as artist or album artist) that `shown` includes, most played
        first, then newest."""
        conditions, params = shown_condition(shown)
        rows = await self._db.fetch_all(
            f"""SELECT tracks.* FROM tracks
                LEFT JOIN ({_PLAYS}) AS played ON played.track_id = tracks.id
                WHERE {" AND ".join(conditions)}
                    AND (tracks.artist_id = ? OR tracks.album_artist_id = ?)
                ORDER BY COALESCE(played.plays, 0) DESC, tracks.created_at DESC, tracks.id
                LIMIT ?""",
            (*params, artist_id, artist_id, limit),
        )
        return [Track.from_row(row) for row in rows]

    async def artist(self, shown: Shown, artist_id: str) -> ArtistRow | None:
        """One artist, as `artists` counts them; None when no track `shown` includes names it."""
        conditions, params = shown_condition(shown)
        where = " AND ".join(conditions)
        row = await self._db.fetch_one(
            f"""SELECT
                    MIN(CASE WHEN artist_id = ? THEN artist ELSE album_artist END) AS name,
                    COUNT(*) AS tracks,
                    COUNT(DISTINCT CASE WHEN album_artist_id = ? AND album_id <> ''
                        THEN album_id END) AS albums
                FROM tracks WHERE {where} AND (artist_id = ? OR album_artist_id = ?)""",
            (artist_id, artist_id, *params, artist_id, artist_id),
        )
        if row is None or not row["tracks"]:
            return None
        return ArtistRow(artist_id, row["name"], int(row["albums"]), int(row["tracks"]))


def _album(row: dict[str, Any], cover_track_id: str | None) -> AlbumRow:
    return AlbumRow(
        id=row["id"],
        title=row["title"],
        artist=row["artist"],
        artist_id=row["artist_id"],
        year=row["year"],
        genre=row["genre"],
        tracks=int(row["tracks"]),
        duration_s=float(row["duration_s"]),
        newest=float(row["newest"]),
        cover_track_id=cover_track_id,
    )
