"""Search, filters and sorts, albums and artists over real HTTP, on SQLite and PostgreSQL:
accent- and case-insensitive, ranked, albums grouped by album artist and title and ordered
across discs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import require_postgres
from tests.support.accounts import bearer, fast_settings, register
from tests.support.postgres import postgres_schema
from tests.support.server import RunningServer, assert_error, serving
from tests.support.tagged import jpeg
from tests.support.tracks import write_music


@pytest.fixture(params=["sqlite", "postgresql"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = fast_settings(tmp_path, default_visibility="public", job_workers=1)
    if request.param == "sqlite":
        async with serving(settings) as running:
            yield running
        return
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        on_postgres = fast_settings(
            tmp_path,
            default_visibility="public",
            job_workers=1,
            database_url=f"{url}?search_path={row['s']}",
        )
        async with serving(on_postgres) as running:
            yield running


class Library:
    def __init__(self, server: RunningServer, token: str, tmp_path: Path) -> None:
        self.server = server
        self.token = token
        self.tmp_path = tmp_path
        self.added = 0

    async def add(self, title: str, **fields: Any) -> dict[str, Any]:
        # Each a different file: the same bytes twice would be the same track.
        self.added += 1
        source = write_music(self.tmp_path / f"{self.added}.wav", 0.5 + self.added / 100)
        with source.open("rb") as file:
            response = await self.server.client.post(
                "/api/v1/tracks",
                files={"file": ("x.wav", file, "audio/wav")},
                data={"title": title, **{k: str(v) for k, v in fields.items()}},
                headers=bearer(self.token),
            )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.server.client.get(path, params=params, headers=bearer(self.token))
        assert response.status_code == 200, response.text
        return response.json()

    async def play(self, track_id: str, times: int) -> None:
        """`times` listens of the track, each long enough to count as a play."""
        for _ in range(times):
            response = await self.server.client.post(
                f"/api/v1/tracks/{track_id}/plays",
                json={"listen_id": secrets.token_hex(8), "seconds": 60},
                headers=bearer(self.token),
            )
            assert response.status_code == 200, response.text

    async def titles(self, **params: Any) -> list[str]:
        return [t["title"] for t in (await self.get("/api/v1/tracks", **params))["items"]]


@pytest.mark.slow
async def test_search_folds_case_and_accents_and_ranks(
    server: RunningServer, tmp_path: Path
) -> None:
    library = Library(server, (await register(server.client, "ann"))["access_token"], tmp_path)
    # Added from the least to the most relevant for "love", so newest-first would invert it.
    await library.add("Some Album Track", album="Love Songs", artist="Nobody")
    await library.add("Other", artist="Love Parade")
    await library.add("Crazy in Love", artist="Beyoncé", genre="Électro", year=2003)
    await library.add("Lovely Day", artist="Bill Withers", year=1977)
    await library.add("Love", artist="Sade")
    await library.add("Äpfel im Regen", artist="Obst", album="Früchte")
    await library.add("Apfelkuchen", artist="BÄCKER")
    await library.add("Glove Box", artist="Hands")  # "love" inside a word: no match

    ranked = ["Love", "Lovely Day", "Crazy in Love", "Other", "Some Album Track"]
    assert await library.titles(q="love") == ranked
    assert await library.titles(q="LOVE") == ranked
    assert await library.titles(q="apfel") == ["Apfelkuchen", "Äpfel im Regen"]
    assert await library.titles(q="ÄPFEL") == ["Apfelkuchen", "Äpfel im Regen"]
    assert await library.titles(q="beyonce") == ["Crazy in Love"]
    assert await library.titles(q="Beyoncé crazy") == ["Crazy in Love"]
    assert await library.titles(q="backer") == ["Apfelkuchen"]
    assert await library.titles(q="fruchte") == ["Äpfel im Regen"]
    assert await library.titles(q="bey") == ["Crazy in Love"]  # a prefix
    assert await library.titles(q="love zebra") == []  # every word must match
    assert await library.titles(q="100%") == []

    # Filters and sorts.
    assert await library.titles(q="love", genre="electro") == ["Crazy in Love"]
    assert await library.titles(year=1977) == ["Lovely Day"]
    assert await library.titles(q="love", sort="title") == [
        "Crazy in Love",
        "Love",
        "Lovely Day",
        "Other",
        "Some Album Track",
    ]
    assert (await library.titles(sort="year"))[:2] == ["Crazy in Love", "Lovely Day"]
    assert await library.titles(status="failed") == []
    me = (await library.get("/api/v1/me"))["id"]
    assert len(await library.titles(owner=me)) == 8
    assert await library.titles(owner="0" * 32) == []

    # Pages in the ranked order, cursor to cursor.
    seen: list[str] = []
    params: dict[str, Any] = {"q": "love", "limit": 2}
    while True:
        page = await library.get("/api/v1/tracks", **params)
        seen += [t["title"] for t in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ranked
    # A cursor of another sort is refused, not misread.
    response = await server.client.get(
        "/api/v1/tracks",
        params={"sort": "title", "cursor": params.get("cursor", "")},
        headers=bearer(library.token),
    )
    assert_error(response, 422, "validation_failed")


@pytest.mark.slow
async def test_albums_group_by_album_artist_and_title_in_disc_order(
    server: RunningServer, tmp_path: Path
) -> None:
    ann = await register(server.client, "ann")
    library = Library(server, ann["access_token"], tmp_path)
    album = {"album": "Früchte", "album_artist": "Various Artists", "year": 2019}
    await library.add("Two-One", artist="B", disc_number=2, track_number=1, **album)
    await library.add("One-Two", artist="A", disc_number=1, track_number=2, **album)
    await library.add("Unnumbered", artist="A", **album)
    await library.add("One-One", artist="Ä", disc_number=1, track_number=1, **album)
    # The same album spelt otherwise: folded alike, so the same album.
    await library.add(
        "Two-Three",
        artist="C",
        disc_number=2,
        track_number=3,
        album="FRUCHTE",
        album_artist="various artists",
    )
    # The same title by another album artist: another album.
    elsewhere = await library.add(
        "Elsewhere", artist="Z", album="Früchte", album_artist="Someone Else"
    )
    single = await library.add("Single", artist="A")  # no album

    albums = (await library.get("/api/v1/albums", sort="artist"))["items"]
    assert [(a["artist"], a["track_count"]) for a in albums] == [
        ("Someone Else", 1),
        ("Various Artists", 5),
    ]
    assert albums[1]["title"] in ("Früchte", "FRUCHTE")
    various = albums[1]
    detail = await library.get(f"/api/v1/albums/{various['id']}")
    assert [t["title"] for t in detail["tracks"]] == [
        "One-One",
        "One-Two",
        "Unnumbered",  # no track number: after the numbered ones of its disc (disc 1 assumed)
        "Two-One",
        "Two-Three",
    ]
    assert detail["duration_s"] == pytest.approx(sum(t["duration_s"] for t in detail["tracks"]))
    assert detail["duration_s"] == pytest.approx(2.65, abs=0.1)  # 0.51 + ... + 0.55
    assert detail["year"] == 2019 and detail["cover_url"] is None
    # Every track says which album it is on.
    assert {t["album_id"] for t in detail["tracks"]} == {various["id"]}

    by_name = await library.get("/api/v1/albums", sort="name", limit=1)
    assert len(by_name["items"]) == 1 and by_name["next_cursor"]
    rest = await library.get("/api/v1/albums", sort="name", limit=1, cursor=by_name["next_cursor"])
    assert {by_name["items"][0]["id"], rest["items"][0]["id"]} == {a["id"] for a in albums}
    for sort in ("newest", "year", "most_played"):
        assert len((await library.get("/api/v1/albums", sort=sort))["items"]) == 2
    # Played albums come first; before any play, the newest order.
    newest = [a["id"] for a in (await library.get("/api/v1/albums", sort="newest"))["items"]]
    assert newest == [elsewhere["album_id"], various["id"]]
    assert [
        a["id"] for a in (await library.get("/api/v1/albums", sort="most_played"))["items"]
    ] == (newest)
    one_one = detail["tracks"][0]
    await library.play(one_one["id"], 2)
    await library.play(single["id"], 1)
    played = (await library.get("/api/v1/albums", sort="most_played"))["items"]
    assert [a["id"] for a in played] == [various["id"], elsewhere["album_id"]]

    artists = (await library.get("/api/v1/artists"))["items"]
    names = [a["name"] for a in artists]
    # A and Ä fold alike: one artist.
    assert names == ["A", "B", "C", "Someone Else", "Various Artists", "Z"]
    various_artist = next(a for a in artists if a["name"] == "Various Artists")
    assert (various_artist["album_count"], various_artist["track_count"]) == (1, 5)
    page = await library.get(f"/api/v1/artists/{various_artist['id']}")
    assert [a["id"] for a in page["albums"]] == [various["id"]]
    assert len(page["top_tracks"]) == 5
    a = next(x for x in artists if x["name"] in ("A", "Ä"))
    top = [t["title"] for t in (await library.get(f"/api/v1/artists/{a['id']}"))["top_tracks"]]
    assert top[:2] == ["One-One", "Single"]  # played twice, once; then the others
    assert set(top) == {"One-Two", "Unnumbered", "One-One", "Single"}

    # Album covers: from a track until the album gets its own.
    one_one = detail["tracks"][0]
    cover_url = f"/api/v1/albums/{various['id']}/cover"
    assert (await server.client.get(cover_url, headers=bearer(library.token))).status_code == 404
    await server.client.put(
        f"/api/v1/tracks/{one_one['id']}/cover",
        content=jpeg(100, 100),
        headers={**bearer(library.token), "Content-Type": "image/jpeg"},
    )
    from_track = await server.client.get(cover_url, headers=bearer(library.token))
    assert from_track.status_code == 200
    bob = (await register(server.client, "bob"))["access_token"]
    refused = await server.client.put(
        cover_url, content=jpeg(), headers={**bearer(bob), "Content-Type": "image/jpeg"}
    )
    assert_error(refused, 403, "forbidden")
    own = await server.client.put(
        cover_url,
        content=jpeg(800, 800),
        headers={**bearer(library.token), "Content-Type": "image/jpeg"},
    )
    assert own.status_code == 204, own.text
    mine = await server.client.get(cover_url, headers=bearer(bob))
    assert mine.status_code == 200 and mine.headers["etag"] != from_track.headers["etag"]
    # A track without a cover of its own shows its album's.
    unnumbered = detail["tracks"][2]
    assert (
        await server.client.get(f"/api/v1/tracks/{unnumbered['id']}/cover", headers=bearer(bob))
    ).content == mine.content
    for missing in ("/api/v1/albums/" + "0" * 24, "/api/v1/albums/nope", "/api/v1/artists/nope"):
        assert_error(await server.client.get(missing, headers=bearer(bob)), 404, "not_found")
