"""Several editors change one playlist at once, over real connections, on SQLite and
PostgreSQL: no entry is lost or doubled, positions stay 0..n-1, what nobody moved keeps its
order, and every edit got a version of its own."""

from __future__ import annotations

import random

import httpx
import pytest
import trio

from tests.support.playlists import (
    Account,
    account,
    add,
    create_playlist,
    invite,
    read,
    ready_track,
)
from tests.support.server import RunningServer

ROUNDS = 6


@pytest.mark.slow
async def test_concurrent_adds_moves_and_removes_keep_the_order(server: RunningServer) -> None:
    owner = await account(server, "owner")
    editors = [await account(server, f"editor{i}") for i in range(3)]
    tracks = [await ready_track(server, owner, f"t{i}") for i in range(5)]
    playlist_id = (await create_playlist(server.client, owner, visibility="unlisted"))["id"]
    for editor in editors:
        await invite(server.client, owner, playlist_id, editor, "editor")
    initial = [e["id"] for e in await add(server.client, owner, playlist_id, tracks * 4)]
    start_version = (await read(server.client, owner, playlist_id))["version"]

    versions: list[int] = []
    added: dict[str, list[list[str]]] = {}  # actor -> the batches it added, in order
    moved: set[str] = set()
    removed: set[str] = set()
    base = f"/api/v1/playlists/{playlist_id}"

    def version_of(response: httpx.Response) -> int:
        assert 200 <= response.status_code < 300, response.text
        etag = response.headers["etag"]
        assert etag.startswith('"v') and etag.endswith('"')
        return int(etag[2:-1])

    async def edit(actor: Account, seed: int) -> None:
        rng = random.Random(seed)
        mine: list[str] = []
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for _ in range(ROUNDS):
                batch = rng.sample(tracks, 2)
                response = await client.post(
                    f"{base}/entries/batch",
                    json={"track_ids": batch, "position": rng.randrange(0, 40)},
                    headers=actor.headers,
                )
                versions.append(version_of(response))
                ids = [e["id"] for e in response.json()["entries"]]
                added.setdefault(actor.username, []).append(ids)
                mine += ids
                target = rng.choice(mine)
                response = await client.post(
                    f"{base}/entries/{target}/move",
                    json={"position": rng.randrange(0, 60)},
                    headers=actor.headers,
                )
                versions.append(version_of(response))
                moved.add(target)
                if rng.random() < 0.5:
                    gone = rng.choice(mine)
                    mine.remove(gone)
                    response = await client.delete(f"{base}/entries/{gone}", headers=actor.headers)
                    versions.append(version_of(response))
                    removed.add(gone)

    async with trio.open_nursery() as nursery:
        for seed, actor in enumerate([owner, *editors]):
            nursery.start_soon(edit, actor, seed)

    playlist = await read(server.client, owner, playlist_id)
    entries = playlist["entries"]
    ids = [e["id"] for e in entries]
    every_added = [i for batches in added.values() for batch in batches for i in batch]
    assert len(ids) == len(set(ids))  # nothing doubled
    assert set(ids) == (set(initial) | set(every_added)) - removed  # nothing lost
    assert [e["position"] for e in entries] == list(range(len(entries)))
    # What nobody moved keeps its order: the initial entries, and each batch.
    assert [i for i in ids if i in set(initial)] == initial
    for batches in added.values():
        for batch in batches:
            still = [i for i in batch if i not in moved and i not in removed]
            assert [i for i in ids if i in still] == still
    # Every edit had a version of its own, one after another.
    assert sorted(versions) == list(range(start_version + 1, start_version + len(versions) + 1))
    assert playlist["version"] == start_version + len(versions)
    assert playlist["track_count"] == len(ids)
