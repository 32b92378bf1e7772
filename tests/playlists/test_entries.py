"""Playlists over HTTP on SQLite and PostgreSQL: create, read, change and list; entries added
at a position, many at once, removed and moved; versions as ETags and If-Match; a deleted
track leaves every playlist."""

from __future__ import annotations

import pytest
import trio

from tests.support.playlists import (
    Account,
    account,
    add,
    create_playlist,
    read,
    ready_track,
)
from tests.support.server import RunningServer, assert_error
from veza.playlists.events import PlaylistChanged, user_topic
from veza.tracks import Track


def titles(playlist: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["track"]["title"] for e in playlist["entries"]]


async def library(server: RunningServer, owner: Account, *names: str) -> dict[str, str]:
    return {name: await ready_track(server, owner, name, duration_s=10.0) for name in names}


@pytest.mark.slow
async def test_create_read_change_and_list(server: RunningServer) -> None:
    alice = await account(server, "alice")
    bob = await account(server, "bob")
    client = server.client
    created = await create_playlist(client, alice, "Road trip")
    assert created["version"] == 1
    assert created["visibility"] == "private"
    assert created["role"] == "owner"
    assert created["entries"] == [] and created["track_count"] == 0
    playlist_id = created["id"]
    assert_error(
        await client.get(f"/api/v1/playlists/{playlist_id}", headers=bob.headers), 404, "not_found"
    )

    changed = await client.patch(
        f"/api/v1/playlists/{playlist_id}",
        json={"description": "long drives", "visibility": "public"},
        headers={**alice.headers, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"v2"'
    assert changed.json()["description"] == "long drives"
    seen_by_bob = await read(client, bob, playlist_id)
    assert seen_by_bob["role"] is None and seen_by_bob["name"] == "Road trip"

    await create_playlist(client, bob, "Bob's own")
    await create_playlist(client, alice, "Alice private")
    listed = await client.get("/api/v1/playlists?limit=1", headers=bob.headers)
    assert listed.status_code == 200
    names = [listed.json()["items"][0]["name"]]
    cursor = listed.json()["next_cursor"]
    while cursor:
        page = await client.get(f"/api/v1/playlists?limit=1&cursor={cursor}", headers=bob.headers)
        names += [item["name"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert names == ["Bob's own", "Road trip"]  # newest first; Alice's private one is not shown
    mine = await client.get("/api/v1/playlists?scope=mine", headers=bob.headers)
    assert [p["name"] for p in mine.json()["items"]] == ["Bob's own"]
    found = await client.get("/api/v1/playlists?q=ROAD", headers=bob.headers)
    assert [p["name"] for p in found.json()["items"]] == ["Road trip"]

    assert_error(
        await client.patch(
            f"/api/v1/playlists/{playlist_id}", json={"name": "mine now"}, headers=bob.headers
        ),
        403,
        "forbidden",
    )
    deleted = await client.delete(f"/api/v1/playlists/{playlist_id}", headers=alice.headers)
    assert deleted.status_code == 204
    assert_error(
        await client.get(f"/api/v1/playlists/{playlist_id}", headers=alice.headers),
        404,
        "not_found",
    )


@pytest.mark.slow
async def test_entries_are_added_removed_and_moved_in_order(server: RunningServer) -> None:
    alice = await account(server, "alice")
    client = server.client
    tracks = await library(server, alice, "a", "b", "c", "d", "e")
    playlist_id = (await create_playlist(client, alice))["id"]

    await add(client, alice, playlist_id, [tracks["a"], tracks["b"], tracks["a"]])
    single = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries",
        json={"track_id": tracks["c"], "position": 1},
        headers=alice.headers,
    )
    assert single.status_code == 201, single.text
    assert single.json()["position"] == 1 and single.json()["available"] is True
    assert single.headers["etag"] == '"v3"'
    at_end = await add(client, alice, playlist_id, [tracks["d"], tracks["e"]], position=99)
    assert [e["position"] for e in at_end] == [4, 5]

    playlist = await read(client, alice, playlist_id)
    assert titles(playlist) == ["a", "c", "b", "a", "d", "e"]
    assert [e["position"] for e in playlist["entries"]] == [0, 1, 2, 3, 4, 5]
    assert playlist["track_count"] == 6 and playlist["duration_s"] == 60.0
    assert len({e["id"] for e in playlist["entries"]}) == 6  # the same track twice, two entries
    assert playlist["cover_track_ids"] == []  # none of them has a cover

    ids = [e["id"] for e in playlist["entries"]]
    moved = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries/{ids[0]}/move",
        json={"position": 4},
        headers=alice.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["position"] == 4
    assert titles(await read(client, alice, playlist_id)) == ["c", "b", "a", "d", "a", "e"]
    back = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries/{ids[5]}/move",
        json={"position": 0},
        headers=alice.headers,
    )
    assert back.json()["position"] == 0
    last = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries/{ids[2]}/move",
        json={"position": 1000},
        headers=alice.headers,
    )
    assert last.json()["position"] == 5
    assert titles(await read(client, alice, playlist_id)) == ["e", "c", "a", "d", "a", "b"]

    removed = await client.delete(
        f"/api/v1/playlists/{playlist_id}/entries/{ids[3]}", headers=alice.headers
    )
    assert removed.status_code == 204
    playlist = await read(client, alice, playlist_id)
    assert titles(playlist) == ["e", "c", "d", "a", "b"]  # the first "a" added went
    assert [e["position"] for e in playlist["entries"]] == [0, 1, 2, 3, 4]
    assert playlist["version"] == 8
    assert_error(
        await client.delete(
            f"/api/v1/playlists/{playlist_id}/entries/{ids[3]}", headers=alice.headers
        ),
        404,
        "not_found",
    )
    unknown = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries",
        json={"track_id": "0" * 24},
        headers=alice.headers,
    )
    assert_error(unknown, 422, "validation_failed")


@pytest.mark.slow
async def test_if_match_refuses_a_stale_version(server: RunningServer) -> None:
    alice = await account(server, "alice")
    client = server.client
    track = await ready_track(server, alice, "song")
    playlist_id = (await create_playlist(client, alice))["id"]
    url = f"/api/v1/playlists/{playlist_id}/entries"
    first = await client.post(
        url, json={"track_id": track}, headers={**alice.headers, "If-Match": '"v1"'}
    )
    assert first.status_code == 201 and first.headers["etag"] == '"v2"'
    stale = await client.post(
        url, json={"track_id": track}, headers={**alice.headers, "If-Match": '"v1"'}
    )
    assert_error(stale, 412, "precondition_failed")
    assert stale.json()["error"]["details"] == {"version": 2}
    for header in ('W/"v2"', "v2", "garbage"):
        weak = await client.post(
            url, json={"track_id": track}, headers={**alice.headers, "If-Match": header}
        )
        assert_error(weak, 412, "precondition_failed")
    assert (
        await client.post(url, json={"track_id": track}, headers={**alice.headers, "If-Match": "*"})
    ).status_code == 201
    playlist = await read(client, alice, playlist_id)
    assert playlist["version"] == 3 and playlist["track_count"] == 2  # nothing stale was applied
    assert_error(
        await client.delete(
            f"/api/v1/playlists/{playlist_id}", headers={**alice.headers, "If-Match": '"v2"'}
        ),
        412,
        "precondition_failed",
    )


@pytest.mark.slow
async def test_a_deleted_track_leaves_every_playlist(server: RunningServer) -> None:
    alice = await account(server, "alice")
    bob = await account(server, "bob")
    client = server.client
    kept = await ready_track(server, alice, "kept")
    doomed = await ready_track(server, alice, "doomed")
    first = (await create_playlist(client, alice, "one"))["id"]
    second = (await create_playlist(client, bob, "two"))["id"]
    await add(client, alice, first, [doomed, kept, doomed])
    await add(client, bob, second, [kept, doomed])
    before = (await read(client, bob, second))["version"]
    doomed_entry = (await read(client, bob, second))["entries"][1]["id"]
    async with server.services.events.subscribe(user_topic(bob.user_id)) as feed:
        deleted = await client.delete(f"/api/v1/tracks/{doomed}", headers=alice.headers)
        assert deleted.status_code == 204
        with trio.fail_after(10):
            told = (await feed.receive()).event
    assert isinstance(told, PlaylistChanged)
    assert (told.playlist_id, told.change, told.version) == (second, "track_removed", before + 1)
    assert (told.entry_ids, told.by) == ([doomed_entry], alice.user_id)
    one = await read(client, alice, first)
    two = await read(client, bob, second)
    assert titles(one) == ["kept"] and titles(two) == ["kept"]
    assert [e["position"] for e in one["entries"]] == [0]
    assert two["version"] == before + 1  # the ETag a client holds is stale now
    # Positions still work after the gap the deletion left.
    await add(client, alice, first, [kept], position=0)
    assert [e["position"] for e in (await read(client, alice, first))["entries"]] == [0, 1]


@pytest.fixture
def track_visibility() -> None:
    """Skips (in a sync fixture, so the reason is kept) until tracks have a visibility."""
    if "visibility" not in Track.__dataclass_fields__:
        pytest.skip("track visibility comes with the catalogue work (PATCH /api/v1/tracks/{id})")


@pytest.mark.slow
@pytest.mark.usefixtures("track_visibility")
async def test_a_track_that_became_private_shows_as_unavailable(server: RunningServer) -> None:
    alice = await account(server, "alice")
    bob = await account(server, "bob")
    client = server.client
    track = await ready_track(server, alice, "secret song", "Alice")
    playlist_id = (await create_playlist(client, bob, visibility="public"))["id"]
    await add(client, bob, playlist_id, [track])
    hidden = await client.patch(
        f"/api/v1/tracks/{track}", json={"visibility": "private"}, headers=alice.headers
    )
    assert hidden.status_code == 200, hidden.text
    entry = (await read(client, bob, playlist_id))["entries"][0]
    assert entry["available"] is False and entry["track"] is None
    assert "secret" not in str(entry)
    assert (await read(client, alice, playlist_id))["entries"][0]["available"] is True
