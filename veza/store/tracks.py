"""Track rows: metadata, processing state and what the transcode measured."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from veza.store import search
from veza.store.database import Executor, Row

SCHEMA = (
    """CREATE TABLE tracks (
        id TEXT PRIMARY KEY,
        owner_id TEXT,
        title TEXT NOT NULL,
        artist TEXT NOT NULL DEFAULT '',
        album TEXT NOT NULL DEFAULT '',
        original_name TEXT NOT NULL,
        original_ext TEXT NOT NULL,
        original_bytes BIGINT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        duration_s DOUBLE PRECISION,
        loudness_lufs DOUBLE PRECISION,
        true_peak_dbtp DOUBLE PRECISION,
        gain_db DOUBLE PRECISION,
        renditions TEXT NOT NULL DEFAULT '[]',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tracks_owner ON tracks (owner_id, created_at)",
)

# A track's HLS output comes in generations: `generation` is the one that plays (0: files of
# before generations, or none yet), made with `ladder`; `building_generation` is the one a
# transcode is writing, with `building_ladder`. URLs name the generation, so a re-transcode
# never changes the bytes behind a URL already served.
GENERATIONS = (
    "ALTER TABLE tracks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tracks ADD COLUMN ladder TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN building_generation INTEGER",
    "ALTER TABLE tracks ADD COLUMN building_ladder TEXT",
)

# The catalogue (migration 8): tags beyond title/artist/album, ReplayGain as the file says it,
# visibility, the cover's content hash (NULL: none), and the columns derived from the tags by
# `veza.store.search` when a row is written (folded keys for search and sorting, the stable ids
# of its album and artists). `track_words` holds the folded words a track is found by.
# Existing rows keep being seen by everyone (public); their derived columns are filled at
# start-up (`fold_version` 0 is older than any FOLD_VERSION).
CATALOGUE = (
    "ALTER TABLE tracks ADD COLUMN album_artist TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN track_number INTEGER",
    "ALTER TABLE tracks ADD COLUMN disc_number INTEGER",
    "ALTER TABLE tracks ADD COLUMN year INTEGER",
    "ALTER TABLE tracks ADD COLUMN genre TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN replaygain_track_gain_db DOUBLE PRECISION",
    "ALTER TABLE tracks ADD COLUMN replaygain_track_peak DOUBLE PRECISION",
    "ALTER TABLE tracks ADD COLUMN replaygain_album_gain_db DOUBLE PRECISION",
    "ALTER TABLE tracks ADD COLUMN replaygain_album_peak DOUBLE PRECISION",
    "ALTER TABLE tracks ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'",
    "ALTER TABLE tracks ADD COLUMN cover TEXT",
    "ALTER TABLE tracks ADD COLUMN title_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN artist_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN album_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN album_artist_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN genre_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN search_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN artist_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN album_artist_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN album_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN fold_version INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX tracks_visibility ON tracks (visibility, created_at)",
    "CREATE INDEX tracks_album ON tracks (album_id)",
    "CREATE INDEX tracks_artist ON tracks (artist_id)",
    "CREATE INDEX tracks_album_artist ON tracks (album_artist_id)",
    "CREATE INDEX tracks_fold_version ON tracks (fold_version)",
    "CREATE INDEX tracks_created ON tracks (created_at)",
)
# Words are compared as code points (a prefix is a range: [word, word + U+10FFFF)), so
# PostgreSQL keeps them in the "C" collation whatever the database's; SQLite's is binary.
_WORDS = """CREATE TABLE track_words (
        word TEXT {collate} NOT NULL,
        track_id TEXT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
        PRIMARY KEY (word, track_id)
    ){suffix}"""
_WORDS_BY_TRACK = "CREATE INDEX track_words_track ON track_words (track_id)"
CATALOGUE_BY_DIALECT = {
    "sqlite": (_WORDS.format(collate="", suffix=" WITHOUT ROWID"), _WORDS_BY_TRACK),
    "postgresql": (_WORDS.format(collate='COLLATE "C"', suffix=""), _WORDS_BY_TRACK),
}

PROCESSING, READY, FAILED = "processing", "ready", "failed"
PRIVATE, UNLISTED, PUBLIC = "private", "unlisted", "public"
VISIBILITIES = (PRIVATE, UNLISTED, PUBLIC)


@dataclass(frozen=True)
class NewTrack:
    id: str
    owner_id: str | None
    title: str
    artist: str
    album: str
    original_name: str
    original_ext: str
    original_bytes: int
    # The catalogue's tags (keyword-only, so older call sites keep their positional fields).
    album_artist: str = field(default="", kw_only=True)
    track_number: int | None = field(default=None, kw_only=True)
    disc_number: int | None = field(default=None, kw_only=True)
    year: int | None = field(default=None, kw_only=True)
    genre: str = field(default="", kw_only=True)
    replaygain_track_gain_db: float | None = field(default=None, kw_only=True)
    replaygain_track_peak: float | None = field(default=None, kw_only=True)
    replaygain_album_gain_db: float | None = field(default=None, kw_only=True)
    replaygain_album_peak: float | None = field(default=None, kw_only=True)
    visibility: str = field(default=PUBLIC, kw_only=True)
    duration_s: float | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Track(NewTrack):
    status: str
    error: str | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float | None
    renditions: list[dict[str, Any]]
    created_at: float
    generation: int
    ladder: str
    building_generation: int | None
    building_ladder: str | None
    cover: str | None = field(default=None, kw_only=True)
    artist_id: str = field(default="", kw_only=True)
    album_artist_id: str = field(default="", kw_only=True)
    album_id: str = field(default="", kw_only=True)

    @classmethod
    def from_row(cls, row: Row) -> Track:
        fields = {k: row[k] for k in cls.__dataclass_fields__ if k != "renditions"}
        return cls(**fields, renditions=json.loads(row["renditions"]))


@dataclass(frozen=True)
class Measurements:
    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float
    renditions: list[dict[str, Any]]


class TrackRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def create(self, track: NewTrack) -> None:
        """A new track, processing, with the columns and words derived from its tags (two
        statements: call it inside a transaction)."""
        now = time.time()
        values: dict[str, Any] = {
            "id": track.id,
            "owner_id": track.owner_id,
            **{name: getattr(track, name) for name in TAG_COLUMNS},
            "original_name": track.original_name,
            "original_ext": track.original_ext,
            "original_bytes": track.original_bytes,
            "replaygain_track_gain_db": track.replaygain_track_gain_db,
            "replaygain_track_peak": track.replaygain_track_peak,
            "replaygain_album_gain_db": track.replaygain_album_gain_db,
            "replaygain_album_peak": track.replaygain_album_peak,
            "visibility": track.visibility,
            "duration_s": track.duration_s,
            "status": PROCESSING,
            "created_at": now,
            "updated_at": now,
            **_derived(track.title, track.artist, track.album, track.album_artist, track.genre),
        }
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        await self._db.execute(
            f"INSERT INTO tracks ({columns}) VALUES ({marks})", tuple(values.values())
        )
        await self._write_words(
            track.id, track.title, track.artist, track.album, track.album_artist
        )

    async def get(self, track_id: str) -> Track | None:
        row = await self._db.fetch_one("SELECT * FROM tracks WHERE id = ?", (track_id,))
        return None if row is None else Track.from_row(row)

    async def get_many(self, track_ids: list[str]) -> list[Track]:
        """The tracks of those ids that exist, in no particular order."""
        unique = sorted(set(track_ids))
        if not unique:
            return []
        marks = ", ".join("?" for _ in unique)
        rows = await self._db.fetch_all(f"SELECT * FROM tracks WHERE id IN ({marks})", unique)
        return [Track.from_row(row) for row in rows]

    async def start_generation(self, track_id: str, generation: int, ladder: str) -> None:
        """A transcode starts writing `generation`; a track with nothing to play yet shows as
        processing, one that plays keeps playing its current generation."""
        await self._db.execute(
            """UPDATE tracks SET building_generation = ?, building_ladder = ?, error = NULL,
                   status = CASE WHEN status = ? THEN status ELSE ? END, updated_at = ?
               WHERE id = ?""",
            (generation, ladder, READY, PROCESSING, time.time(), track_id),
        )

    async def mark_ready(
        self, track_id: str, generation: int, ladder: str, measured: Measurements
    ) -> None:
        """`generation` plays from now on."""
        await self._db.execute(
            """UPDATE tracks SET status = ?, error = NULL, duration_s = ?, loudness_lufs = ?,
                   true_peak_dbtp = ?, gain_db = ?, renditions = ?, generation = ?, ladder = ?,
                   building_generation = NULL, building_ladder = NULL, updated_at = ?
               WHERE id = ?""",
            (
                READY,
                measured.duration_s,
                measured.loudness_lufs,
                measured.true_peak_dbtp,
                measured.gain_db,
                json.dumps(measured.renditions),
                generation,
                ladder,
                time.time(),
                track_id,
            ),
        )

    async def mark_failed(self, track_id: str, reason: str) -> None:
        """The transcode failed for good: a track with nothing to play fails with `reason`; one
        that plays keeps its generation (and says why the new one failed)."""
        await self._db.execute(
            """UPDATE tracks SET error = ?, building_generation = NULL, building_ladder = NULL,
                   status = CASE WHEN status = ? THEN status ELSE ? END, updated_at = ?
               WHERE id = ?""",
            (reason, READY, FAILED, time.time(), track_id),
        )

    async def made_with_another_ladder(self, ladder: str, job_kind: str) -> list[str]:
        """Tracks that play a generation made with another ladder and have no transcode
        queued or running: those to re-transcode after the ladder changed."""
        rows = await self._db.fetch_all(
            """SELECT id FROM tracks WHERE status = ? AND ladder <> ? AND id NOT IN (
                   SELECT subject_id FROM jobs WHERE kind = ? AND status IN ('queued', 'running'))
               ORDER BY created_at""",
            (READY, ladder, job_kind),
        )
        return [row["id"] for row in rows]

    async def delete(self, track_id: str) -> None:
        await self._db.execute("DELETE FROM tracks WHERE id = ?", (track_id,))

    async def ids(self) -> set[str]:
        return {row["id"] for row in await self._db.fetch_all("SELECT id FROM tracks")}

    async def list(
        self, query: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Track]:
        """Newest first, every visibility (housekeeping and older callers; routes use
        `search`), optionally only those matching `query`; at most `limit`."""
        found = await self.search(
            TrackSearch(query=query, sort="newest"), Shown(VISIBILITIES, None), after, limit
        )
        return [track for track, _ in found]

    # The catalogue: tag edits, covers, search (migration 8)

    async def _write_words(self, track_id: str, *texts: str) -> None:
        await self._db.execute("DELETE FROM track_words WHERE track_id = ?", (track_id,))
        found = sorted(search.words(*texts))
        if found:
            marks = ", ".join("(?, ?)" for _ in found)
            params = [value for word in found for value in (word, track_id)]
            await self._db.execute(
                f"INSERT INTO track_words (word, track_id) VALUES {marks}", params
            )

    async def edit(self, track_id: str, changes: dict[str, Any]) -> None:
        """Change tags (names in TAG_COLUMNS) and `visibility`; the derived columns and words
        follow. Several statements: call it inside a transaction."""
        unknown = set(changes) - {*TAG_COLUMNS, "visibility"}
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        row = await self._db.fetch_one("SELECT * FROM tracks WHERE id = ?", (track_id,))
        if row is None:
            return
        merged = {**{name: row[name] for name in TAG_COLUMNS}, **changes}
        await self._rewrite(track_id, merged, {**changes, "updated_at": time.time()})

    async def _rewrite(self, track_id: str, tags: dict[str, Any], columns: dict[str, Any]) -> None:
        derived = _derived(
            tags["title"], tags["artist"], tags["album"], tags["album_artist"], tags["genre"]
        )
        values = {**columns, **derived}
        assignments = ", ".join(f"{name} = ?" for name in values)
        await self._db.execute(
            f"UPDATE tracks SET {assignments} WHERE id = ?", (*values.values(), track_id)
        )
        await self._write_words(
            track_id, tags["title"], tags["artist"], tags["album"], tags["album_artist"]
        )

    async def refold(self, limit: int) -> int:
        """Derive again, for at most `limit` rows folded by an older FOLD_VERSION (or never),
        their keys, ids and words. Returns how many; call it inside a transaction."""
        rows = await self._db.fetch_all(
            "SELECT * FROM tracks WHERE fold_version < ? LIMIT ?", (search.FOLD_VERSION, limit)
        )
        for row in rows:
            await self._rewrite(row["id"], {n: row[n] for n in TAG_COLUMNS}, {})
        return len(rows)

    async def set_cover(self, track_id: str, cover: str | None) -> None:
        """The content hash of the track's cover images, or None when it has none."""
        await self._db.execute(
            "UPDATE tracks SET cover = ?, updated_at = ? WHERE id = ?",
            (cover, time.time(), track_id),
        )

    async def search(
        self,
        criteria: TrackSearch,
        shown: Shown,
        after: Sequence[Any] | None,
        limit: int,
    ) -> Sequence[tuple[Track, tuple[Any, ...]]]:
        """Tracks that `shown` lets a list include and that match `criteria`, in its sort
        order, after the sort key `after`; each with its sort key (for the next cursor)."""
        conditions, params = shown_condition(shown)
        for column, value in (
            ("owner_id", criteria.owner_id),
            ("album_id", criteria.album_id),
            ("status", criteria.status),
            ("year", criteria.year),
        ):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if criteria.artist_id is not None:
            conditions.append("(artist_id = ? OR album_artist_id = ?)")
            params += [criteria.artist_id, criteria.artist_id]
        if criteria.genre is not None:
            conditions.append("genre_key = ?")
            params.append(search.fold(criteria.genre))
        rank_sql, rank_params = "0", list[Any]()
        if criteria.query:
            match_sql, match_params = _matching(criteria.query)
            conditions.append(match_sql)
            params += match_params
            rank_sql, rank_params = _rank(criteria.query)
        keys = SORTS[criteria.sort]
        selected = ", ".join(f"{expr} AS k{i}" for i, (expr, _, _) in enumerate(keys))
        selected = selected.replace("{rank}", rank_sql)
        key_params = rank_params if "{rank}" in " ".join(e for e, _, _ in keys) else []
        where = " AND ".join(conditions) or "1 = 1"
        outer, outer_params = after_condition(
            [(f"k{i}", desc) for i, (_, desc, _) in enumerate(keys)], after
        )
        order = ", ".join(
            f"k{i} {'DESC' if desc else 'ASC'}" for i, (_, desc, _) in enumerate(keys)
        )
        rows = await self._db.fetch_all(
            f"""SELECT * FROM (SELECT tracks.*, {selected} FROM tracks WHERE {where}) AS found
                WHERE {outer} ORDER BY {order} LIMIT ?""",
            (*key_params, *params, *outer_params, limit),
        )
        return [
            (Track.from_row(row), tuple(kind(row[f"k{i}"]) for i, (_, _, kind) in enumerate(keys)))
            for row in rows
        ]


TAG_COLUMNS = (
    "title",
    "artist",
    "album",
    "album_artist",
    "track_number",
    "disc_number",
    "year",
    "genre",
)
FIELD_SEPARATOR = " \x1f "  # between the fields of `search_text`; no query contains it


def _derived(title: str, artist: str, album: str, album_artist: str, genre: str) -> dict[str, Any]:
    """The columns a track's tags decide: folded keys, search text, album and artist ids."""
    credited = album_artist or artist  # an album belongs to its album artist, else its artist
    return {
        "title_key": search.fold(title),
        "artist_key": search.fold(artist),
        "album_key": search.fold(album),
        "album_artist_key": search.fold(credited),
        "genre_key": search.fold(genre),
        "search_text": FIELD_SEPARATOR.join(
            search.fold(text) for text in (title, artist, album, album_artist)
        ),
        "artist_id": search.artist_id(artist),
        "album_artist_id": search.artist_id(credited),
        "album_id": search.album_id(credited, album),
        "fold_version": search.FOLD_VERSION,
    }


@dataclass(frozen=True)
class Shown:
    """Which tracks a list may include, as `veza.tracks.visibility` decides: those whose
    visibility is one of `visibilities`, and every track of `owner_id` (the caller's own)."""

    visibilities: tuple[str, ...]
    owner_id: str | None


def shown_condition(shown: Shown, table: str = "tracks") -> tuple[list[str], list[Any]]:
    """`shown` as one SQL condition on `table` (a list of one, to extend) and its parameters."""
    marks = ", ".join("?" for _ in shown.visibilities) or "NULL"
    condition = f"{table}.visibility IN ({marks})"
    params: list[Any] = list(shown.visibilities)
    if shown.owner_id is not None:
        condition = f"({condition} OR {table}.owner_id = ?)"
        params.append(shown.owner_id)
    return [condition], params


@dataclass(frozen=True)
class TrackSearch:
    """What a track list asks for: words to find (in title, artist, album, album artist),
    filters (ids, exact values; the genre without regard to case and accents), and a sort
    (a key of SORTS)."""

    query: str | None = None
    owner_id: str | None = None
    artist_id: str | None = None
    album_id: str | None = None
    genre: str | None = None
    year: int | None = None
    status: str | None = None
    sort: str = "newest"

    def cursor_shape(self) -> tuple[type, ...]:
        """The types of this sort's key, for decoding a cursor."""
        return tuple(kind for _, _, kind in SORTS[self.sort])


# Each sort: its key, column by column (SQL expression, descending, Python type of the value
# in a cursor). The id ends every key, so the order is total and a cursor names one place.
# `{rank}` is the relevance of a row to the query (0 best; see _rank).
SORTS: dict[str, tuple[tuple[str, bool, type], ...]] = {
    "newest": (("created_at", True, float), ("id", True, str)),
    "title": (("title_key", False, str), ("id", False, str)),
    "artist": (
        ("album_artist_key", False, str),
        ("album_key", False, str),
        ("COALESCE(disc_number, 0)", False, int),
        ("COALESCE(track_number, 0)", False, int),
        ("id", False, str),
    ),
    "album": (
        ("album_key", False, str),
        ("COALESCE(disc_number, 0)", False, int),
        ("COALESCE(track_number, 0)", False, int),
        ("id", False, str),
    ),
    "year": (("COALESCE(year, 0)", True, int), ("created_at", True, float), ("id", True, str)),
    "relevance": (("{rank}", False, int), ("created_at", True, float), ("id", True, str)),
}


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matching(query: str) -> tuple[str, list[Any]]:
    """Tracks holding, for each word of `query`, a word that starts with it (a one-letter
    word: that word itself), through the words index. A query without any word (only
    punctuation) is looked for as it is, anywhere in the folded fields."""
    found = search.query_words(query)
    if not found:
        return "search_text LIKE ? ESCAPE '\\'", [f"%{_like_escaped(search.fold(query))}%"]
    conditions, params = [], []
    for word in found:
        if len(word) < search.PREFIX_MIN_CHARS:
            conditions.append("id IN (SELECT track_id FROM track_words WHERE word = ?)")
            params.append(word)
        else:
            conditions.append(
                "id IN (SELECT track_id FROM track_words WHERE word >= ? AND word < ?)"
            )
            params += list(search.prefix_bounds(word))
    return "(" + " AND ".join(conditions) + ")", params


def _rank(query: str) -> tuple[str, list[Any]]:
    """How well a row matches, best first: 0 the title is the query, 1 the title starts with
    it, 2 a word of the title starts with the query's first word, 3 the artist or album artist
    starts with the query, 4 anything else that matched (the album, a later word)."""
    folded = search.fold(query)
    first = (search.query_words(query) or [folded])[0]
    prefix = f"{_like_escaped(folded)}%"
    return (
        """CASE WHEN title_key = ? THEN 0
            WHEN title_key LIKE ? ESCAPE '\\' THEN 1
            WHEN (' ' || title_key) LIKE ? ESCAPE '\\' THEN 2
            WHEN artist_key LIKE ? ESCAPE '\\' OR album_artist_key LIKE ? ESCAPE '\\' THEN 3
            ELSE 4 END""",
        [folded, prefix, f"% {_like_escaped(first)}%", prefix, prefix],
    )


def after_condition(
    keys: list[tuple[str, bool]], after: Sequence[Any] | None
) -> tuple[str, list[Any]]:
    """Rows strictly after the key `after` in the order of `keys` (column, descending)."""
    if after is None:
        return "1 = 1", []
    alternatives, params = [], []
    for i, (column, descending) in enumerate(keys):
        equal = [f"{c} = ?" for c, _ in keys[:i]]
        alternatives.append(
            "(" + " AND ".join([*equal, f"{column} {'<' if descending else '>'} ?"]) + ")"
        )
        params += [*after[:i], after[i]]
    return "(" + " OR ".join(alternatives) + ")", params
