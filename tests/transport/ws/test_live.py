"""Live state over real sockets: typing indicators, presence, and track events during a real
transcode (the owner's own, and a subscriber's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.playlists import account, add, create_playlist, read, ready_track
from tests.support.server import serving
from tests.support.tracks import write_music
from tests.support.ws import Client, connect, group
from veza.store.tracks import NewTrack
from veza.tracks.events import TrackProgress, track_topic
from veza.transport.ws.hub import websocket_hub


def typing(conversation_id: str, active: bool) -> dict[str, Any]:
    return {"type": "typing", "conversation_id": conversation_id, "active": active}


async def test_typing_carries_the_full_set_and_expires(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, typing_expiry_seconds=0.3)
    async with serving(settings) as server:
        alice, bob, carol = [await register(server.client, n) for n in ("alice", "bob", "carol")]
        chat = await group(server, alice, bob, carol)
        ids = {p["user"]["id"]: name for p, name in ((alice, "a"), (bob, "b"), (carol, "c"))}
        watch = frozenset({"ping", "presence", "presences", "event"})
        async with (
            connect(server, alice["access_token"], ignore=watch) as a,
            connect(server, carol["access_token"], ignore=watch) as c,
            connect(server, bob["access_token"], ignore=watch) as b,
        ):

            async def seen(client: Client) -> tuple[str, bool, list[str]]:
                frame = await client.expect("typing", conversation_id=chat)
                return ids[frame["user_id"]], frame["active"], [ids[u] for u in frame["typing"]]

            await a.send(typing(chat, True))
            assert await seen(b) == ("a", True, ["a"])
            await c.send(typing(chat, True))
            assert await seen(b) == ("c", True, sorted(["a", "c"], key=lambda n: _id(ids, n)))
            await a.send(typing(chat, False))
            assert await seen(b) == ("a", False, ["c"])
            # Carol never says she stopped: her state runs out on its own.
            assert await seen(b) == ("c", False, [])
        hub = server.app.extensions["veza.ws"]
        assert hub.typing.active_conversations == 0  # nobody types: no owner task left


def _id(ids: dict[str, str], name: str) -> str:
    return next(user for user, n in ids.items() if n == name)


async def test_typing_over_the_rate_limit_gets_an_error(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, chat_typing_burst=2, chat_typing_per_minute=1.0)
    async with serving(settings) as server:
        alice, bob = await register(server.client, "alice"), await register(server.client, "bob")
        chat = await group(server, alice, bob)
        async with connect(
            server,
            alice["access_token"],
            ignore=frozenset({"ping", "typing", "presence", "presences"}),
        ) as a:
            for active in (True, False):
                await a.send(typing(chat, active))
            await a.send(typing(chat, True))
            error = await a.expect("error", code="rate_limited")
            assert error["retry_after"] >= 1


@pytest.mark.slow
async def test_presence_online_away_and_offline_reach_those_who_share_a_conversation(
    tmp_path: Path,
) -> None:
    settings = fast_settings(
        tmp_path, presence_offline_grace_seconds=0.2, presence_away_after_seconds=0.5
    )
    async with serving(settings) as server:
        alice, bob, stranger = [await register(server.client, n) for n in ("alice", "bob", "eve")]
        chat = await group(server, alice, bob)
        only = frozenset({"ping", "event", "typing", "message", "receipt"})
        async with (
            connect(server, bob["access_token"], ignore=only) as b,
            connect(server, stranger["access_token"], ignore=only) as s,
        ):
            async with connect(server, alice["access_token"], ignore=only) as a:
                alice_id = alice["user"]["id"]
                assert await b.presence_of(alice_id) == "online"
                await a.send({"type": "presence", "status": "away"})
                assert await b.presence_of(alice_id) == "away"
                await a.send({"type": "presence", "status": "online"})
                assert await b.presence_of(alice_id) == "online"
                # Silent for presence_away_after_seconds: away; a frame of hers: online again
                # (pings and pongs do not count: clients send them by themselves).
                assert await b.presence_of(alice_id) == "away"
                await a.send(typing(chat, False))
                assert await b.presence_of(alice_id) == "online"
                async with connect(server, alice["access_token"], ignore=only):
                    pass  # a second socket that closes: she is still online on the first
            # Her last socket closed: offline once the grace period is over.
            assert await b.presence_of(alice_id) == "offline"
            # Eve shares no conversation with her and heard nothing of it (nor of bob).
            await s.send({"type": "ping"})
            await s.expect("pong")


@pytest.mark.slow
async def test_track_events_reach_the_owner_and_a_subscriber_during_a_transcode(
    tmp_path: Path,
) -> None:
    require_tool("ffmpeg")
    async with serving(fast_settings(tmp_path)) as server:
        alice, bob = await register(server.client, "alice"), await register(server.client, "bob")
        quiet = frozenset({"ping", "presence", "presences"})
        async with (
            connect(server, alice["access_token"], ignore=quiet) as a,
            connect(server, bob["access_token"], ignore=quiet) as b,
        ):
            path = write_music(tmp_path / "song.wav", 20)
            with path.open("rb") as file:
                response = await server.client.post(
                    "/api/v1/tracks",
                    files={"file": (path.name, file, "audio/wav")},
                    data={"visibility": "public"},  # bob may see it, so follow it
                    headers=bearer(alice["access_token"]),
                )
            assert response.status_code == 202, response.text
            track_id = response.json()["id"]
            added = await a.expect("event", name="track.added")
            assert added["data"] == {"track_id": track_id, "owner_id": alice["user"]["id"]}
            await b.send({"type": "subscribe", "topic": f"track:{track_id}"})
            await b.expect("subscribed", topic=f"track:{track_id}")
            progress: list[float] = []
            while (frame := await a.next())["data"].get("fraction") is not None:
                assert frame["name"] == "track.progress"
                progress.append(frame["data"]["fraction"])
            assert frame["name"] == "track.ready", frame
            assert progress == sorted(progress)
            for_bob = await b.next()
            while for_bob["name"] == "track.progress":
                for_bob = await b.next()
            assert for_bob["name"] == "track.ready"
            assert for_bob["data"]["track_id"] == track_id
            await b.send({"type": "unsubscribe", "topic": f"track:{track_id}"})
            await b.expect("unsubscribed", topic=f"track:{track_id}")


async def test_a_socket_follows_the_users_tracks_still_transcoding(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path)) as server:
        alice, bob = await register(server.client, "alice"), await register(server.client, "bob")
        # Uploaded before the socket opened (a reconnect in the middle of a transcode): the row
        # alone, written behind the API, so no worker finishes it before the test looks.
        await server.store.tracks.create(
            NewTrack("a" * 24, alice["user"]["id"], "t", "", "", "t.wav", ".wav", 1)
        )
        quiet = frozenset({"ping", "presence", "presences"})
        async with (
            connect(server, alice["access_token"], ignore=quiet) as a,
            connect(server, bob["access_token"], ignore=quiet) as b,
        ):
            for fraction in (0.25, 0.5):
                server.services.events.publish(
                    track_topic("a" * 24), TrackProgress("a" * 24, fraction)
                )
            first = await a.expect("event", name="track.progress")
            second = await a.expect("event", name="track.progress")
            assert (first["data"]["fraction"], second["data"]["fraction"]) == (0.25, 0.5)
            # Not bob's track: he hears of it only if he subscribes.
            await b.send({"type": "ping"})
            await b.expect("pong")


async def test_a_playlist_subscriber_hears_each_change_and_a_private_one_stays_closed(
    tmp_path: Path,
) -> None:
    async with serving(fast_settings(tmp_path)) as server:
        owner, listener = await account(server, "owner"), await account(server, "listener")
        track = await ready_track(server, owner, "song")
        shared = (await create_playlist(server.client, owner, "shared", "public"))["id"]
        closed = (await create_playlist(server.client, owner, "closed", "private"))["id"]
        async with connect(server, listener.token, ignore=frozenset({"ping"})) as socket:
            # A playlist the listener may not read is answered as one that does not exist.
            await socket.send({"type": "subscribe", "topic": f"playlist:{closed}"})
            await socket.expect("error", code="not_found")
            await socket.send({"type": "subscribe", "topic": f"playlist:{shared}"})
            await socket.expect("subscribed", topic=f"playlist:{shared}")
            [entry] = await add(server.client, owner, shared, [track])
            frame = await socket.expect("event", name="playlist.changed")
            assert frame["data"]["playlist_id"] == shared
            assert frame["data"]["entry_ids"] == [entry["id"]]
            assert frame["data"]["version"] == (await read(server.client, owner, shared))["version"]


async def test_ready_names_the_peers_present_now_and_no_stranger(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path)) as server:
        alice, bob, carol, dave = [
            await register(server.client, n) for n in ("alice", "bob", "carol", "dave")
        ]
        erin = await register(server.client, "erin")
        await group(server, alice, bob, carol)  # dave shares nothing with them
        await group(server, bob, alice)  # alice twice over: named once
        await group(server, erin, bob)  # erin shares another conversation with bob
        quiet = frozenset({"ping", "presence", "presences"})
        async with (
            connect(server, alice["access_token"], ignore=quiet),
            connect(server, dave["access_token"], ignore=quiet),
            connect(server, erin["access_token"], ignore=quiet) as e,
        ):
            await e.send({"type": "presence", "status": "away"})
            presence = websocket_hub(server.app).presence

            async def erin_away() -> bool:
                return presence.status(erin["user"]["id"]) == "away"

            await eventually(erin_away)  # the owner took it in
            async with connect(server, bob["access_token"], ignore=quiet) as b:
                # Alice is online, erin away, carol has no socket, dave is a stranger.
                assert b.ready["present"] == sorted(
                    [
                        {"user_id": alice["user"]["id"], "status": "online"},
                        {"user_id": erin["user"]["id"], "status": "away"},
                    ],
                    key=lambda p: p["user_id"],
                )
            async with connect(server, dave["access_token"], ignore=quiet) as d:
                assert d.ready["present"] == []
