"""Importing M3U, M3U8 and XSPF files (matching by title and artist without regard to case
and accents, or by file name; reporting the rest; refusing DTDs, oversized and non-multipart
bodies) and the play queue round trip, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.playlists import Account, account, ready_track
from tests.support.server import RunningServer, assert_error

XSPF = """<?xml version="1.0" encoding="UTF-8"?>
<playlist version="1" xmlns="http://xspf.org/ns/0/">
  <title>From another player</title>
  <trackList>
    <track><title>beyonce halo</title><creator>BEYONCE</creator></track>
    <track><location>file:///music/Sigur%20R%C3%B3s%20-%20Hoppipolla.flac</location></track>
    <track><title>Nowhere</title><creator>Nobody</creator>
      <location>http://example.org/nowhere.mp3</location></track>
  </trackList>
</playlist>
"""

M3U = """#EXTM3U
#EXTINF:215,Beyoncé - Halo
/home/me/Music/halo.mp3
#EXTINF:-1,Unknown Artist - Unknown Song
C:\\Music\\unknown.mp3
/home/me/Music/Café del Mar.ogg
"""


async def send(
    client: httpx.AsyncClient,
    who: Account,
    content: bytes,
    filename: str = "list.m3u8",
    **form: str,
) -> httpx.Response:
    return await client.post(
        "/api/v1/playlists/import",
        files={"file": (filename, content, "application/octet-stream")},
        data=form,
        headers=who.headers,
    )


async def library(server: RunningServer) -> tuple[Account, dict[str, str]]:
    owner = await account(server, "owner")
    tracks = {
        "halo": await ready_track(server, owner, "Beyoncé Halo", "Beyoncé"),
        "halo single": await ready_track(server, owner, "Halo", "Beyoncé"),
        "hoppipolla": await ready_track(
            server, owner, "Hoppípolla", "Sigur Rós", filename="Sigur Rós - Hoppipolla.flac"
        ),
        "cafe": await ready_track(server, owner, "Cafe", "", filename="cafe del mar.wav"),
    }
    return owner, tracks


def track_ids(body: dict[str, Any]) -> list[str]:
    return [e["track_id"] for e in body["playlist"]["entries"]]


@pytest.mark.slow
async def test_an_xspf_is_matched_by_title_artist_and_file_name(server: RunningServer) -> None:
    _, tracks = await library(server)
    importer = await account(server, "importer")
    response = await send(server.client, importer, XSPF.encode(), "list.xspf")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["playlist"]["name"] == "From another player"
    assert body["playlist"]["owner_id"] == importer.user_id
    assert body["matched"] == 2
    assert track_ids(body) == [tracks["halo"], tracks["hoppipolla"]]
    assert body["unmatched"] == [
        {
            "index": 2,
            "title": "Nowhere",
            "artist": "Nobody",
            "location": "http://example.org/nowhere.mp3",
        }
    ]


@pytest.mark.slow
async def test_an_m3u_is_matched_and_what_is_left_is_reported(server: RunningServer) -> None:
    _, tracks = await library(server)
    importer = await account(server, "importer")
    response = await send(
        server.client, importer, M3U.encode(), name="Imported", visibility="unlisted"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["playlist"]["name"] == "Imported"
    assert body["playlist"]["visibility"] == "unlisted"
    assert track_ids(body) == [tracks["halo single"], tracks["cafe"]]
    assert [(u["index"], u["title"], u["artist"]) for u in body["unmatched"]] == [
        (1, "Unknown Song", "Unknown Artist")
    ]
    latin = await send(server.client, importer, M3U.encode("latin-1"), "list.m3u")
    assert latin.status_code == 201 and latin.json()["matched"] == 2


@pytest.mark.slow
async def test_bad_files_are_refused(server: RunningServer) -> None:
    importer = await account(server, "importer")
    client = server.client
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<playlist xmlns="http://xspf.org/ns/0/"><title>&lol2;</title></playlist>'
    )
    assert_error(await send(client, importer, laughs.encode()), 422, "validation_failed")
    external = (
        '<?xml version="1.0"?><!DOCTYPE p SYSTEM "http://example.org/evil.dtd">'
        '<playlist xmlns="http://xspf.org/ns/0/"/>'
    )
    assert_error(await send(client, importer, external.encode()), 422, "validation_failed")
    assert_error(await send(client, importer, b"<playlist><oops>"), 422, "validation_failed")
    not_xspf = b'<?xml version="1.0"?><html/>'
    assert_error(await send(client, importer, not_xspf), 422, "validation_failed")
    big = b"#EXTM3U\n" + b"/music/x.mp3\n" * 100_000
    assert_error(await send(client, importer, big), 413, "payload_too_large")
    raw = await client.post(
        "/api/v1/playlists/import", content=M3U.encode(), headers=importer.headers
    )
    assert_error(raw, 415, "unsupported_media_type")
    many = b"#EXTM3U\n" + b"/music/x.mp3\n" * 1001
    assert_error(await send(client, importer, many), 422, "validation_failed")


@pytest.mark.slow
async def test_the_queue_round_trip(server: RunningServer) -> None:
    owner, tracks = await library(server)
    client = server.client
    empty = await client.get("/api/v1/me/queue", headers=owner.headers)
    assert empty.status_code == 200
    assert empty.json()["track_ids"] == [] and empty.json()["current_track_id"] is None
    order = [tracks["halo"], tracks["cafe"], tracks["halo"], tracks["hoppipolla"]]
    saved = await client.put(
        "/api/v1/me/queue",
        json={"track_ids": order, "current_index": 3, "position_s": 42.5, "client": "laptop"},
        headers=owner.headers,
    )
    assert saved.status_code == 200, saved.text
    again = (await client.get("/api/v1/me/queue", headers=owner.headers)).json()
    assert again["track_ids"] == order
    assert (again["current_index"], again["current_track_id"]) == (3, tracks["hoppipolla"])
    assert (again["position_s"], again["changed_by"]) == (42.5, "laptop")

    # A track deleted since leaves the queue; the current one is still the current one.
    assert (
        await client.delete(f"/api/v1/tracks/{tracks['cafe']}", headers=owner.headers)
    ).status_code == 204
    after = (await client.get("/api/v1/me/queue", headers=owner.headers)).json()
    assert after["track_ids"] == [tracks["halo"], tracks["halo"], tracks["hoppipolla"]]
    assert after["current_track_id"] == tracks["hoppipolla"]

    for bad in (
        {"track_ids": ["0" * 24]},
        {"track_ids": [tracks["halo"]], "current_index": 1},
        {"track_ids": [tracks["halo"]] * 1001},
        {"track_ids": [tracks["halo"]], "position_s": -1},
    ):
        refused = await client.put("/api/v1/me/queue", json=bad, headers=owner.headers)
        assert_error(refused, 422, "validation_failed")
    other = await account(server, "other")
    theirs = (await client.get("/api/v1/me/queue", headers=other.headers)).json()
    assert theirs["track_ids"] == []
