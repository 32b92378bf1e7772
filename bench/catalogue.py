"""Catalogue search benchmark: 100,000 tracks written straight into the store (SQLite and
PostgreSQL), then a mix of searches as a signed-in user, timed one by one.

    python bench/catalogue.py                 # both backends, 100,000 tracks
    python bench/catalogue.py --tracks 20000  # a smaller catalogue
    python bench/catalogue.py --backend sqlite

Veza: `TrackRepository.search` (the words index, folded; ranked; public tracks and the
caller's own), the call behind `GET /api/v1/tracks?q=`. Peer: the search Veza had before the
catalogue, `LOWER(column) LIKE '%query%'` over title, artist and album (no accent folding,
no ranking), on the same rows. Each query runs once after a warm-up pass over all of them;
p50/p99/max per backend, per kind of query, and the ratio to the peer.

PostgreSQL: VEZA_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
the benchmark works in a schema of its own and drops it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from veza.store import Store
from veza.store.database import Database
from veza.store.migrations import migrate
from veza.store.sqlite import open_sqlite
from veza.store.tracks import PRIVATE, PUBLIC, UNLISTED, NewTrack, Shown, TrackSearch

SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "lu",
    "sa",
    "ne",
    "ti",
    "po",
    "la",
    "ve",
    "da",
    "ro",
    "mi",
    "su",
    "na",
    "ke",
    "lo",
    "ba",
    "fi",
    "zu",
    "an",
    "el",
    "in",
    "or",
    "us",
    "ar",
    "en",
    "ol",
    "is",
    "um",
    "ra",
    "le",
    "to",
    "ma",
    "ni",
]
# Real words with accents and cases, so folded queries have something to find.
ACCENTED = [
    "Äpfel",
    "Beyoncé",
    "Café",
    "Über",
    "Niño",
    "Crème",
    "Brûlée",
    "Zoë",
    "Ångström",
    "Résumé",
    "Sødermalm",
    "Straße",
    "Façade",
    "Mañana",
    "Déjà",
    "Naïve",
    "Fiancée",
    "Göteborg",
    "Łódź",
    "Ça",
]
GENRES = [
    "Rock",
    "Pop",
    "Jazz",
    "Électro",
    "Hip-Hop",
    "Folk",
    "Classical",
    "Ambient",
    "Metal",
    "Soul",
    "Funk",
    "Reggae",
    "Blues",
    "Country",
    "Techno",
    "House",
    "Punk",
    "Indie",
    "Chanson",
    "Tango",
]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize())
    return sorted(words) + ACCENTED


class Zipf:
    """Words drawn with Zipf's law (s = 1): the k-th most common one k times rarer than the
    first, as words are in titles (here the most common is in a quarter of the titles)."""

    def __init__(self, rng: random.Random, items: list[str]) -> None:
        self.rng = rng
        self.items = items
        self.weights = list(itertools.accumulate(1 / (k + 1) for k in range(len(items))))

    def pick(self) -> str:
        return self.rng.choices(self.items, cum_weights=self.weights)[0]


def catalogue(count: int, seed: int = 11) -> tuple[list[NewTrack], list[str], list[str]]:
    """`count` tracks on albums by artists, tagged from a Zipf-distributed vocabulary; the
    vocabulary and the owners' ids."""
    rng = random.Random(seed)
    words = vocabulary(rng, 4000)
    rng.shuffle(words)
    zipf = Zipf(rng, words)
    owners = [secrets.token_hex(16) for _ in range(200)]
    artists = [" ".join(zipf.pick() for _ in range(rng.randint(1, 3))) for _ in range(8000)]
    albums = [
        (" ".join(zipf.pick() for _ in range(rng.randint(1, 3))), rng.choice(artists))
        for _ in range(20000)
    ]
    tracks = []
    for i in range(count):
        title_album, artist = albums[int(rng.paretovariate(0.6)) % len(albums)]
        tracks.append(
            NewTrack(
                id=f"{i:024x}",
                owner_id=rng.choice(owners),
                title=" ".join(zipf.pick() for _ in range(rng.randint(1, 4))),
                artist=artist if rng.random() < 0.8 else rng.choice(artists),
                album=title_album,
                original_name="x.flac",
                original_ext=".flac",
                original_bytes=30_000_000,
                album_artist=artist if rng.random() < 0.3 else "",
                track_number=rng.randint(1, 14),
                disc_number=1,
                year=rng.randint(1960, 2025),
                genre=rng.choice(GENRES),
                visibility=rng.choices((PUBLIC, PRIVATE, UNLISTED), (70, 20, 10))[0],
                duration_s=rng.uniform(90, 400),
            )
        )
    return tracks, words, owners


def queries(rng: random.Random, words: list[str], n: int = 300) -> list[tuple[str, str]]:
    """(kind, query): what people type, a word, a prefix, two words, another case or no
    accents, a two-letter prefix, something not there."""
    found: list[tuple[str, str]] = []
    zipf = Zipf(rng, words)
    for _ in range(n):
        word = zipf.pick()
        kind = rng.choices(
            ("word", "prefix", "two words", "folded", "two letters", "absent"),
            (30, 25, 15, 15, 10, 5),
        )[0]
        if kind == "word":
            query = word
        elif kind == "prefix":
            query = word[: rng.randint(3, max(3, len(word) - 1))]
        elif kind == "two words":
            query = f"{word} {zipf.pick()}"
        elif kind == "folded":
            accented = rng.choice(ACCENTED)
            query = rng.choice((accented.upper(), accented.lower(), _plain(accented)))
        elif kind == "two letters":
            query = word[:2]
        else:
            query = "zzqx" + word
        found.append((kind, query))
    return found


def _plain(word: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


async def fill(store: Store, tracks: list[NewTrack]) -> float:
    started = time.perf_counter()
    for start in range(0, len(tracks), 5000):
        async with store.transaction() as tx:
            await tx.tracks.create_many(tracks[start : start + 5000])
    if store.database.dialect == "postgresql":
        # What autovacuum does soon after a bulk insert on a live server: planner statistics,
        # and the visibility map that lets index-only scans skip the table.
        await store.database.execute("VACUUM ANALYZE")
    else:
        await store.database.execute("ANALYZE")
    return time.perf_counter() - started


async def peer_search(database: Database, query: str) -> list[Any]:
    """The search before the catalogue: substring LIKE over three columns, newest first."""
    pattern = (
        "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    )
    return await database.fetch_all(
        """SELECT * FROM tracks WHERE (LOWER(title) LIKE ? ESCAPE '\\'
               OR LOWER(artist) LIKE ? ESCAPE '\\' OR LOWER(album) LIKE ? ESCAPE '\\')
           ORDER BY created_at DESC, id DESC LIMIT 51""",
        (pattern, pattern, pattern),
    )


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, int]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, len(result)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(name: str, times: dict[str, list[float]]) -> None:
    every = [t for values in times.values() for t in values]
    p50, p99 = statistics.median(every), percentile(every, 0.99)
    print(
        f"  {name:<26} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
        f"   max {max(every):7.2f} ms   ({len(every)} queries)"
    )
    for kind, values in sorted(times.items()):
        print(
            f"    {kind:<24} p50 {statistics.median(values):7.2f} ms   "
            f"p99 {percentile(values, 0.99):7.2f} ms   n={len(values)}"
        )


async def run(database: Database, count: int) -> None:
    await migrate(database)
    store = Store(database)
    tracks, words, owners = catalogue(count)
    seconds = await fill(store, tracks)
    postings = await database.fetch_one("SELECT COUNT(*) AS n FROM track_words")
    assert postings is not None
    print(f"  built {count:,} tracks ({postings['n']:,} postings) in {seconds:.1f} s")
    viewer = Shown((PUBLIC,), owners[0])
    mix = queries(random.Random(5), words)

    async def veza(query: str) -> Any:
        return await store.tracks.search(
            TrackSearch(query=query, sort="relevance"), viewer, None, 51
        )

    for _, query in mix:  # warm-up: caches and plans, as on a running server
        await veza(query)
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    matched = 0
    for kind, query in mix:
        elapsed, found = await timed(lambda q=query: veza(q))  # type: ignore[misc]
        ours.setdefault(kind, []).append(elapsed)
        matched += found > 0
    for kind, query in mix[:100]:
        elapsed, _ = await timed(lambda q=query: peer_search(database, q))  # type: ignore[misc]
        theirs.setdefault(kind, []).append(elapsed)
    report("Veza (words index)", ours)
    report("peer (LIKE, 100 queries)", theirs)
    every_ours = [t for v in ours.values() for t in v]
    every_theirs = [t for v in theirs.values() for t in v]
    print(
        f"  ratio p50 {statistics.median(every_ours) / statistics.median(every_theirs):.3f}"
        f"   p99 {percentile(every_ours, 0.99) / percentile(every_theirs, 0.99):.3f}"
        f"   ({matched} of {len(mix)} queries found something)"
    )


@asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[Database]:
    async with open_sqlite(directory / "bench.db", readers=2) as database:
        yield database


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[Database]:
    import trio_asyncio

    from veza.store.postgres import open_postgres

    schema = f"bench_{secrets.token_hex(4)}"
    async with trio_asyncio.open_loop(), open_postgres(url, search_path=schema) as database:
        await database.execute(f"CREATE SCHEMA {schema}")
        try:
            yield database
        finally:
            await database.execute(f"DROP SCHEMA {schema} CASCADE")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    arguments = parser.parse_args()
    if arguments.backend in ("sqlite", "both"):
        print("SQLite")
        with tempfile.TemporaryDirectory() as directory:
            async with sqlite_database(Path(directory)) as database:
                await run(database, arguments.tracks)
    if arguments.backend in ("postgresql", "both"):
        url = os.environ.get(
            "VEZA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        print("PostgreSQL")
        async with postgres_database(url) as database:
            await run(database, arguments.tracks)


if __name__ == "__main__":
    sys.exit(trio.run(main))
