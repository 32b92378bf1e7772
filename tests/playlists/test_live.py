"""Every playlist change is published after its commit, on SQLite and PostgreSQL: to
`playlist:{id}` (whoever has it open) and to `user:{id}` of the owner and collaborators, with
the new version and what changed, small enough to cross processes (PostgreSQL NOTIFY)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.support.playlists import account, add, create_playlist, invite, read, ready_track
from tests.support.server import RunningServer
from veza.events import Subscription, encode_message
from veza.playlists.events import PlaylistChanged, QueueChanged, playlist_topic, user_topic

NOTIFY_LIMIT = 8000


async def next_change(subscription: Subscription) -> tuple[str, PlaylistChanged]:
    with trio.fail_after(10):
        delivery = await subscription.receive()
    assert isinstance(delivery.event, PlaylistChanged), delivery
    return delivery.topic, delivery.event


def summary(event: PlaylistChanged) -> dict[str, Any]:
    return {"version": event.version, "change": event.change, "by": event.by}


@pytest.mark.slow
async def test_changes_reach_the_playlist_and_its_members(server: RunningServer) -> None:
    client, bus = server.client, server.services.events
    owner = await account(server, "owner")
    editor = await account(server, "editor")
    viewer = await account(server, "viewer")
    track = await ready_track(server, owner, "song")

    async with bus.subscribe(user_topic(owner.user_id)) as owner_feed:
        playlist_id = (await create_playlist(client, owner))["id"]
        _, created = await next_change(owner_feed)
        assert summary(created) == {"version": 1, "change": "created", "by": owner.user_id}

    async with (
        bus.subscribe(playlist_topic(playlist_id)) as watcher,
        bus.subscribe(user_topic(editor.user_id)) as editor_feed,
        bus.subscribe(user_topic(viewer.user_id)) as viewer_feed,
    ):
        await invite(client, owner, playlist_id, editor, "editor")
        topic, invited = await next_change(watcher)
        assert topic == playlist_topic(playlist_id)
        assert summary(invited) == {"version": 2, "change": "collaborators", "by": owner.user_id}
        assert invited.user_ids == [editor.user_id]
        assert (await next_change(editor_feed))[1] == invited  # the invitee hears of it too

        await invite(client, owner, playlist_id, viewer, "viewer")
        await next_change(watcher)
        await next_change(editor_feed)
        assert (await next_change(viewer_feed))[1].version == 3

        entries = await add(client, editor, playlist_id, [track, track])
        _, added = await next_change(watcher)
        assert summary(added) == {"version": 4, "change": "entries_added", "by": editor.user_id}
        assert added.entry_ids == [e["id"] for e in entries]
        assert (await next_change(viewer_feed))[1] == added

        moved = await client.post(
            f"/api/v1/playlists/{playlist_id}/entries/{entries[1]['id']}/move",
            json={"position": 0},
            headers=editor.headers,
        )
        assert moved.status_code == 200
        _, event = await next_change(watcher)
        assert (event.change, event.entry_ids, event.version) == (
            "entry_moved",
            [entries[1]["id"]],
            5,
        )
        # A second client, told of version 5, reads version 5: in sync without polling.
        assert (await read(client, viewer, playlist_id))["version"] == event.version

        renamed = await client.patch(
            f"/api/v1/playlists/{playlist_id}",
            json={"name": "New name", "visibility": "private"},
            headers=owner.headers,
        )
        assert renamed.status_code == 200
        _, event = await next_change(watcher)
        assert (event.change, sorted(event.fields)) == ("details", ["name"])
        assert "New name" not in str(event.to_dict())  # ids, never titles

        removed = await client.delete(
            f"/api/v1/playlists/{playlist_id}/collaborators/{viewer.user_id}",
            headers=owner.headers,
        )
        assert removed.status_code == 204
        await next_change(watcher)
        assert [(await next_change(viewer_feed))[1].version for _ in range(2)] == [5, 6]
        _, told = await next_change(viewer_feed)
        assert (told.change, told.user_ids, told.version) == ("collaborators", [viewer.user_id], 7)

        deleted = await client.delete(f"/api/v1/playlists/{playlist_id}", headers=owner.headers)
        assert deleted.status_code == 204
        _, event = await next_change(watcher)
        assert (event.change, event.version) == ("deleted", 8)


@pytest.mark.slow
async def test_a_big_batch_stays_within_notify_size(server: RunningServer) -> None:
    client, bus = server.client, server.services.events
    owner = await account(server, "owner")
    track = await ready_track(server, owner, "song")
    playlist_id = (await create_playlist(client, owner))["id"]
    async with bus.subscribe(playlist_topic(playlist_id)) as watcher:
        await add(client, owner, playlist_id, [track] * 500)
        topic, event = await next_change(watcher)
    assert event.truncated and event.entry_ids == []
    assert len(encode_message(topic, event).encode()) < NOTIFY_LIMIT


async def test_saving_the_queue_tells_the_other_devices(server: RunningServer) -> None:
    owner = await account(server, "owner")
    track = await ready_track(server, owner, "song")
    async with server.services.events.subscribe(user_topic(owner.user_id)) as feed:
        saved = await server.client.put(
            "/api/v1/me/queue",
            json={"track_ids": [track], "current_index": 0, "position_s": 12.5, "client": "phone"},
            headers=owner.headers,
        )
        assert saved.status_code == 200
        with trio.fail_after(10):
            delivery = await feed.receive()
    assert isinstance(delivery.event, QueueChanged)
    assert delivery.event.changed_by == "phone"


@pytest.mark.slow
async def test_can_read_answers_the_socket_subscribe_check(server: RunningServer) -> None:
    client, accounts = server.client, server.services.accounts
    owner = await account(server, "owner")
    viewer = await account(server, "viewer")
    other = await account(server, "other")
    playlists = server.services.playlists
    private = (await create_playlist(client, owner))["id"]
    public = (await create_playlist(client, owner, visibility="public"))["id"]
    await invite(client, owner, private, viewer, "viewer")
    as_owner, as_viewer, as_other = [
        await accounts.authenticate(who.token) for who in (owner, viewer, other)
    ]
    assert await playlists.can_read(as_owner, private)
    assert await playlists.can_read(as_viewer, private)
    assert not await playlists.can_read(as_other, private)
    assert await playlists.can_read(as_other, public)
    assert not await playlists.can_read(as_owner, "no such id")
    assert not await playlists.can_read(as_owner, "0" * 32)
