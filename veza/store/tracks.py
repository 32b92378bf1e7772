"""Track rows: metadata, processing state and what the transcode measured."""

from __future__ import annotations

import builtins
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
# of its album and artists). `track_words` is the search index (below).
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
# The search index: one row per (prefix of a word, track), with the best place a word with that
# prefix has in the track (veza/store/search.py: title start, title, artist, album) and the
# track's newness (-created_at). Its key orders a prefix's tracks by relevance, newest first,
# so a search reads one index range from its start and stops at the page's end, however many
# tracks match. The second index finds a track's rows (edits, deletes, the other words of a
# query).
_POSTINGS = """CREATE TABLE track_words (
        prefix TEXT NOT NULL,
        place INTEGER NOT NULL,
        newness DOUBLE PRECISION NOT NULL,
        track_id TEXT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
        PRIMARY KEY (prefix, place, newness, track_id)
    ){suffix}"""
_POSTINGS_BY_TRACK = "CREATE INDEX track_words_track ON track_words (track_id, prefix)"
CATALOGUE_BY_DIALECT = {
    "sqlite": (_POSTINGS.format(suffix=" WITHOUT ROWID"), _POSTINGS_BY_TRACK),
    "postgresql": (_POSTINGS.format(suffix=""), _POSTINGS_BY_TRACK),
}
# Where a track's original came from and what it weighs (migration 9). `content_hash` (SHA-256
# of the original) finds a file its owner already has: one copy per owner and content, NULL
# owners (music folders) excepted. A track found in a music folder has `source_path` (its
# original stays there, never written) with the size and mtime seen by the last scan.
# `stored_bytes` counts what Veza made of it in the data dir (renditions, waveform, covers).
LIBRARY = (
    "ALTER TABLE tracks ADD COLUMN content_hash TEXT",
    "ALTER TABLE tracks ADD COLUMN source_path TEXT",
    "ALTER TABLE tracks ADD COLUMN source_size BIGINT",
    "ALTER TABLE tracks ADD COLUMN source_mtime DOUBLE PRECISION",
    "ALTER TABLE tracks ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0",
    "CREATE UNIQUE INDEX tracks_owner_content ON tracks (owner_id, content_hash)",
    "CREATE UNIQUE INDEX tracks_source_path ON tracks (source_path)",
)

# Whether the renditions carry the track gain (migration 11): 1 when the transcode applied it
# (`loudness_apply_gain` on, even when that gain was 0 dB), 0 when it did not, NULL before any
# transcode. Older rows are read from the gain they stored (non-zero: applied).
NORMALISED = (
    "ALTER TABLE tracks ADD COLUMN normalised INTEGER",
    """UPDATE tracks SET normalised = CASE WHEN gain_db <> 0 THEN 1 ELSE 0 END
       WHERE gain_db IS NOT NULL""",
)

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
    # The library's columns (LIBRARY); keyword-only, so the fields above keep their order.
    content_hash: str | None = field(default=None, kw_only=True)
    source_path: str | None = field(default=None, kw_only=True)
    source_size: int | None = field(default=None, kw_only=True)
    source_mtime: float | None = field(default=None, kw_only=True)
    stored_bytes: int = field(default=0, kw_only=True)
    normalised: int | None = field(default=None, kw_only=True)

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
    normalised: bool = field(kw_only=True)  # the renditions carry `gain_db`


class TrackRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def create(self, track: NewTrack) -> None:
        """A new track, processing, with the columns and words derived from its tags (two
        statements: call it inside a transaction)."""
        await self.create_many([track])

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
                   true_peak_dbtp = ?, gain_db = ?, normalised = ?, renditions = ?,
                   generation = ?, ladder = ?, building_generation = NULL,
                   building_ladder = NULL, updated_at = ?
               WHERE id = ?""",
            (
                READY,
                measured.duration_s,
                measured.loudness_lufs,
                measured.true_peak_dbtp,
                measured.gain_db,
                int(measured.normalised),
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

    async def processing_of(self, owner_id: str, limit: int) -> list[str]:
        """The ids of `owner_id`'s tracks still processing, oldest first; at most `limit`."""
        rows = await self._db.fetch_all(
            """SELECT id FROM tracks WHERE owner_id = ? AND status = ?
               ORDER BY created_at, id LIMIT ?""",
            (owner_id, PROCESSING, limit),
        )
        return [row["id"] for row in rows]

    async def ids(self) -> set[str]:
        return {row["id"] for row in await self._db.fetch_all("SELECT id FROM tracks")}

    # The catalogue: tag edits, covers, search (migration 8)

    async def create_many(self, tracks: Sequence[NewTrack]) -> None:
        """New tracks, processing, in a few multi-row statements (a scan, a benchmark);
        call it inside a transaction."""
        now = time.time()
        rows = [_insert_values(track, now) for track in tracks]
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            columns = ", ".join(chunk[0])
            marks = ", ".join("(" + ", ".join("?" for _ in row) + ")" for row in chunk)
            params = [value for row in chunk for value in row.values()]
            await self._db.execute(f"INSERT INTO tracks ({columns}) VALUES {marks}", params)
        postings = [
            (prefix, place, -now, track.id)
            for track in tracks
            for prefix, place in _postings(track.__dict__).items()
        ]
        await self._insert_postings(postings)

    async def _insert_postings(self, postings: Sequence[tuple[str, int, float, str]]) -> None:
        for start in range(0, len(postings), _POSTINGS_PER_INSERT):
            chunk = postings[start : start + _POSTINGS_PER_INSERT]
            marks = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            params = [value for posting in chunk for value in posting]
            await self._db.execute(
                f"INSERT INTO track_words (prefix, place, newness, track_id) VALUES {marks}",
                params,
            )

    async def _write_postings(self, track_id: str, created_at: float, tags: dict[str, Any]) -> None:
        await self._db.execute("DELETE FROM track_words WHERE track_id = ?", (track_id,))
        await self._insert_postings(
            [(prefix, place, -created_at, track_id) for prefix, place in _postings(tags).items()]
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
        await self._rewrite(row, merged, {**changes, "updated_at": time.time()})

    async def _rewrite(self, row: Row, tags: dict[str, Any], columns: dict[str, Any]) -> None:
        derived = _derived(
            tags["title"], tags["artist"], tags["album"], tags["album_artist"], tags["genre"]
        )
        values = {**columns, **derived}
        assignments = ", ".join(f"{name} = ?" for name in values)
        await self._db.execute(
            f"UPDATE tracks SET {assignments} WHERE id = ?", (*values.values(), row["id"])
        )
        await self._write_postings(row["id"], row["created_at"], tags)

    async def refold(self, limit: int) -> int:
        """Derive again, for at most `limit` rows folded by an older FOLD_VERSION (or never),
        their keys, ids and words. Returns how many; call it inside a transaction."""
        rows = await self._db.fetch_all(
            "SELECT * FROM tracks WHERE fold_version < ? LIMIT ?", (search.FOLD_VERSION, limit)
        )
        for row in rows:
            await self._rewrite(row, {n: row[n] for n in TAG_COLUMNS}, {})
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
                conditions.append(f"tracks.{column} = ?")
                params.append(value)
        if criteria.artist_id is not None:
            conditions.append("(tracks.artist_id = ? OR tracks.album_artist_id = ?)")
            params += [criteria.artist_id, criteria.artist_id]
        if criteria.genre is not None:
            conditions.append("tracks.genre_key = ?")
            params.append(search.fold(criteria.genre))
        words = search.query_words(criteria.query) if criteria.query else []
        if criteria.query and not words:
            # Only punctuation: looked for as it is, anywhere in the folded fields (a scan).
            conditions.append("tracks.search_text LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escaped(search.fold(criteria.query))}%")
        if words and criteria.sort == "relevance":
            return await self._ranked(words, conditions, params, after, limit)
        for word in words:
            sql, word_params = _has_word("tracks.id", word)
            conditions.append(sql)
            params += word_params
        keys = SORTS[criteria.sort]
        selected = ", ".join(f"{expr} AS k{i}" for i, (expr, _, _) in enumerate(keys))
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
            (*params, *outer_params, limit),
        )
        return _with_keys(rows, keys)

    async def _ranked(
        self,
        words: Sequence[str],
        conditions: Sequence[str],
        params: Sequence[Any],
        after: Sequence[Any] | None,
        limit: int,
    ) -> Sequence[tuple[Track, tuple[Any, ...]]]:
        """Tracks with every query word, by relevance: read in the order of one word's index
        range (place, then newest), each row checked against the rest (the other words,
        visibility, filters) until the page is full. With several words, the range read is
        that of the rarest (counted up to a bound), so a rare word is not checked against
        every track of a common one; its place ranks the tracks."""
        first, *others = words if len(words) == 1 else await self._rarest_first(words)
        conditions = [*conditions]
        params = [search.lookup(first), *params]
        if len(first) > search.PREFIX_MAX_CHARS:
            conditions.append("tracks.search_text LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escaped(first)}%")
        for word in others:
            sql, word_params = _has_word("p.track_id", word)
            conditions.append(sql)
            params += word_params
        if after is not None:
            conditions.append("(p.place, p.newness, p.track_id) > (?, ?, ?)")
            params += list(after)
        rows = await self._db.fetch_all(
            f"""SELECT tracks.*, p.place AS k0, p.newness AS k1, p.track_id AS k2
                FROM track_words AS p JOIN tracks ON tracks.id = p.track_id
                WHERE p.prefix = ? AND {" AND ".join(conditions)}
                ORDER BY p.place, p.newness, p.track_id LIMIT ?""",
            (*params, limit),
        )
        return _with_keys(rows, SORTS["relevance"])

    async def _rarest_first(self, words: Sequence[str]) -> Sequence[str]:
        counts = ", ".join(
            f"""(SELECT COUNT(*) FROM (SELECT 1 FROM track_words WHERE prefix = ?
                    LIMIT {_RAREST_BOUND}) AS c{i}) AS n{i}"""
            for i in range(len(words))
        )
        row = await self._db.fetch_one(f"SELECT {counts}", [search.lookup(word) for word in words])
        assert row is not None
        return sorted(words, key=lambda word: row[f"n{words.index(word)}"])

    # The library (music folders, duplicates, storage): LIBRARY's columns.

    async def set_content_hash(self, track_id: str, content_hash: str) -> None:
        """Raises IntegrityError when the owner already has a track of that content."""
        await self._db.execute(
            "UPDATE tracks SET content_hash = ? WHERE id = ?", (content_hash, track_id)
        )

    async def by_content(self, owner_id: str, content_hash: str) -> Track | None:
        row = await self._db.fetch_one(
            "SELECT * FROM tracks WHERE owner_id = ? AND content_hash = ?",
            (owner_id, content_hash),
        )
        return None if row is None else Track.from_row(row)

    async def set_stored_bytes(self, track_id: str, stored_bytes: int) -> None:
        await self._db.execute(
            "UPDATE tracks SET stored_bytes = ? WHERE id = ?", (stored_bytes, track_id)
        )

    async def all(self) -> builtins.list[Track]:
        """Every track, oldest first (the media check walks them all)."""
        rows = await self._db.fetch_all("SELECT * FROM tracks ORDER BY created_at, id")
        return [Track.from_row(row) for row in rows]


# Postings counted at most, per word, to find a query's rarest word.
_RAREST_BOUND = 20_000


def _with_keys(
    rows: list[Row], keys: tuple[tuple[str, bool, type], ...]
) -> list[tuple[Track, tuple[Any, ...]]]:
    return [
        (Track.from_row(row), tuple(kind(row[f"k{i}"]) for i, (_, _, kind) in enumerate(keys)))
        for row in rows
    ]


def _has_word(track_column: str, word: str) -> tuple[str, list[Any]]:
    """A condition: the track in `track_column` has a word starting with `word` (a one-letter
    word: that word), through the index; a word longer than the indexed prefixes is also
    looked for in the folded fields."""
    # A scalar subquery, not EXISTS: PostgreSQL turns EXISTS into a join it may plan before
    # the index range (reading every posting of a common word); a count stays a probe of the
    # track's own postings, row by row, in the range's order, as on SQLite.
    sql = (
        "(SELECT COUNT(*) FROM track_words AS w "
        f"WHERE w.track_id = {track_column} AND w.prefix = ?) > 0"
    )
    params: list[Any] = [search.lookup(word)]
    if len(word) > search.PREFIX_MAX_CHARS:
        sql += " AND tracks.search_text LIKE ? ESCAPE '\\'"
        params.append(f"%{_like_escaped(word)}%")
    return sql, params


# At most 10,000 parameters a statement (veza/store/postgres.py numbers up to that many);
# tracks have about 35 columns, postings 4.
_ROWS_PER_INSERT = 250
_POSTINGS_PER_INSERT = 2400


def _postings(tags: dict[str, Any]) -> dict[str, int]:
    return search.postings(tags["title"], tags["artist"], tags["album"], tags["album_artist"])


def _insert_values(track: NewTrack, now: float) -> dict[str, Any]:
    """A new track's row, column by column."""
    return {
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
# Relevance is (place, newness, id) of the query's first word in the search index (see
# `_ranked`): the title starts with it, a title word does, an artist's, an album's; newest
# first within each. Without words to look up, every track has place 0.
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
    "relevance": (("0", False, int), ("-created_at", False, float), ("id", False, str)),
}


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
