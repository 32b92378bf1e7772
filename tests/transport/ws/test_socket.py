"""The socket itself over real loopback WebSockets: authentication, origins, bad frames, the
heartbeat, slow consumers, session ends and the 1009 bound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.tracks import write_music
from tests.support.ws import Client, connect, ws_url


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = fast_settings(tmp_path, ws_auth_timeout_seconds=0.5)
    async with serving(settings) as running:
        yield running


@pytest.fixture
async def alice(server: RunningServer) -> dict[str, Any]:
    return await register(server.client, "alice")


async def answers(client: Client) -> None:
    """The socket is alive and answering."""
    await client.send({"type": "ping"})
    await client.expect("pong")


async def test_a_token_in_the_header_authenticates(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    async with connect(server, alice["access_token"]) as client:
        assert client.ready["user_id"] == alice["user"]["id"]
        await answers(client)


async def test_a_first_auth_frame_authenticates(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    async with connect(server, alice["access_token"], by_frame=True) as client:
        assert client.ready["user_id"] == alice["user"]["id"]
        await answers(client)


@pytest.mark.parametrize("by_frame", [False, True])
async def test_a_bad_token_closes_with_1008(server: RunningServer, by_frame: bool) -> None:
    async with connect(server, "not-a-token", by_frame=by_frame, wait_ready=False) as client:
        assert await client.closed() == 1008


async def test_silence_instead_of_an_auth_frame_closes_with_1008(server: RunningServer) -> None:
    async with connect(server) as client:
        assert await client.closed() == 1008


async def test_another_first_frame_closes_with_1008(server: RunningServer) -> None:
    async with connect(server) as client:
        await client.send({"type": "ping"})
        assert await client.closed() == 1008


async def test_a_foreign_origin_is_refused_before_the_handshake(server: RunningServer) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(
            ws_url(server), extra_headers=[(b"origin", b"https://evil.example")]
        ):
            pass
    assert rejected.value.status_code == 403


async def test_the_same_origin_and_no_origin_are_allowed(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    same = server.url.encode()  # what a page served by Veza sends: scheme, host and port
    async with connect(server, alice["access_token"], headers=[(b"origin", same)]) as client:
        await answers(client)
    async with connect(server, alice["access_token"]) as client:  # a native app: no Origin
        await answers(client)


async def test_a_configured_origin_is_allowed(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, cors_origins="https://app.example")
    async with serving(settings) as server:
        alice = await register(server.client, "alice")
        origin = [(b"origin", b"https://app.example")]
        async with connect(server, alice["access_token"], headers=origin) as client:
            await answers(client)
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(
                ws_url(server), extra_headers=[(b"origin", b"https://other.example")]
            ):
                pass


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ("[" * 100_00 + "]" * 100_00, "malformed_json"),
        (b"\x00binary", "malformed_json"),
        ('{"no": "type"}', "unknown_type"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "send", "conversation_id": "x", "body": "hi"}', "invalid_frame"),
        ('{"type": "read", "conversation_id": "x", "seq": "3"}', "invalid_frame"),
        ('{"type": "typing", "conversation_id": "x", "active": 1}', "invalid_frame"),
        ('{"type": "pong", "extra": true}', "invalid_frame"),
        ('{"type": "presence", "status": "offline"}', "invalid_frame"),
        ('{"type": "auth", "token": "again"}', "forbidden"),
        ('{"type": "subscribe", "topic": "nonsense"}', "unknown_topic"),
        ('{"type": "subscribe", "topic": "playlist:abc"}', "not_found"),
        ('{"type": "subscribe", "topic": "track:0123456789abcdef01234567"}', "not_found"),
        ('{"type": "typing", "conversation_id": "0123456789abcdef", "active": true}', "not_found"),
        (
            '{"type": "send", "conversation_id": "nope", "body": "hi", "client_id": "c1"}',
            "not_found",
        ),
        ('{"type": "resume", "conversation_id": "nope", "after_seq": 0}', "not_found"),
    ],
)
@pytest.mark.slow
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(
    server: RunningServer, alice: dict[str, Any], frame: str | bytes, code: str
) -> None:
    async with connect(server, alice["access_token"]) as client:
        await client.send(frame)
        error = await client.expect("error", code=code)
        assert error["message"]
        await answers(client)


async def test_an_oversized_frame_closes_with_1009(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, websocket_max_message_bytes=4096)
    async with serving(settings) as server:
        alice = await register(server.client, "alice")
        async with connect(server, alice["access_token"]) as client:
            await client.send({"type": "ping", "pad": "a" * 3000})  # under: an error frame
            await client.expect("error", code="invalid_frame")
            await client.send({"type": "ping", "pad": "a" * 5000})
            assert await client.closed() == 1009


@pytest.mark.slow
async def test_the_server_pings_and_closes_a_silent_client(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, ws_ping_interval_seconds=0.1, ws_idle_timeout_seconds=1.0)
    async with serving(settings) as server:
        alice = await register(server.client, "alice")
        async with (
            connect(server, alice["access_token"]) as talking,
            connect(server, alice["access_token"]) as silent,
        ):
            assert talking.ready["ping_interval_s"] == 0.1
            # One answers every ping and outlives the other's idle timeout several times over.
            pings = 0
            while pings < 10:
                frame = await talking.next(pings=True)
                if frame["type"] == "ping":
                    pings += 1
                    await talking.send({"type": "pong"})
            assert (await silent.next(pings=True))["type"] == "ping"
            assert await silent.closed() == 1000
            await answers(talking)


async def test_logout_closes_the_sessions_sockets_and_only_those(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    login = await server.client.post(
        "/api/v1/auth/login", json={"login": "alice", "password": "correct horse battery staple"}
    )
    other_session = login.json()["access_token"]
    async with (
        connect(server, alice["access_token"]) as first,
        connect(server, alice["access_token"], by_frame=True) as second,
        connect(server, other_session) as elsewhere,
    ):
        response = await server.client.post(
            "/api/v1/auth/logout", headers=bearer(alice["access_token"])
        )
        assert response.status_code == 204
        assert await first.closed() == 1008
        assert await second.closed() == 1008
        await answers(elsewhere)


async def test_a_password_reset_closes_every_socket_of_the_user(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    bob = await register(server.client, "bob")
    async with (
        connect(server, alice["access_token"]) as mine,
        connect(server, bob["access_token"]) as theirs,
    ):
        # Disabling the account revokes every session, as a reset does (one code path each).
        admin = await register(server.client, "root")
        await server.store.accounts.set_role(admin["user"]["id"], "admin", 0.0)
        response = await server.client.patch(
            f"/api/v1/admin/users/{alice['user']['id']}",
            json={"disabled": True},
            headers=bearer(admin["access_token"]),
        )
        assert response.status_code == 200, response.text
        assert await mine.closed() == 1008
        await answers(theirs)


async def test_a_revoked_session_cannot_open_a_socket(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    await server.client.post("/api/v1/auth/logout", headers=bearer(alice["access_token"]))
    async with connect(server, alice["access_token"], wait_ready=False) as client:
        assert await client.closed() == 1008


async def test_closed_sockets_leave_nothing_behind(
    server: RunningServer, alice: dict[str, Any]
) -> None:
    hub = server.app.extensions["veza.ws"]
    before = server.services.events.stats().subscriptions
    for _ in range(3):
        async with connect(server, alice["access_token"]) as client:
            await answers(client)
    with trio.fail_after(5):
        await hub.wait_idle()
    # Each socket's subscription ended with its nursery, before the hub let it go.
    assert server.services.events.stats().subscriptions == before


async def test_subscriptions_per_socket_are_bounded(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path, ws_max_topics=1)) as server:
        alice = await register(server.client, "alice")
        tracks = [
            await server.services.tracks.import_file(write_music(tmp_path / f"{n}.wav", 1 + n))
            for n in range(2)
        ]
        first, second = (f"track:{t.id}" for t in tracks)
        async with connect(
            server, alice["access_token"], ignore=frozenset({"ping", "event"})
        ) as client:
            await client.send({"type": "subscribe", "topic": first})
            await client.expect("subscribed", topic=first)
            await client.send({"type": "subscribe", "topic": first})  # again: no new one
            await client.expect("subscribed", topic=first)
            await client.send({"type": "subscribe", "topic": second})
            await client.expect("error", code="too_many_topics")
            await client.send({"type": "unsubscribe", "topic": first})
            await client.expect("unsubscribed", topic=first)
            await client.send({"type": "subscribe", "topic": second})
            await client.expect("subscribed", topic=second)
