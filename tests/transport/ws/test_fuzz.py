"""Hypothesis against a real socket: whatever frames a client sends (JSON of any shape, text,
bytes, valid types with wrong fields), the connection survives, answers a valid frame
afterwards, and once closed leaves no task of it behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.accounts import fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.ws import connect
from veza.transport.ws.protocol import CLIENT_TYPES

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
fields = st.dictionaries(
    st.sampled_from(
        [
            "conversation_id",
            "body",
            "client_id",
            "seq",
            "after_seq",
            "active",
            "topic",
            "status",
            "token",
            "extra",
        ]
    ),
    json_values | st.sampled_from(["track:0123", "playlist:1", "away", "online", "x" * 64]),
    max_size=4,
)
typed = st.builds(
    lambda t, f: json.dumps({"type": t, **f}), st.sampled_from(sorted(CLIENT_TYPES)), fields
)
frames = st.one_of(
    typed,
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
)


@dataclass
class Live:
    server: RunningServer
    token: str
    trio_token: trio.lowlevel.TrioToken
    baseline: int


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server for every example, in a Trio loop on its own thread; examples run in it."""
    started: list[Live] = []
    ready, stop = threading.Event(), trio.Event()

    async def main() -> None:
        path: Path = tmp_path_factory.mktemp("fuzz")
        async with serving(fast_settings(path, chat_send_burst=100_000)) as server:
            alice = await register(server.client, "alice")
            async with connect(server, alice["access_token"]):
                pass  # warm: the first socket starts nothing that stays, but measure after it
            await settle(server, None)
            tasks = trio.lowlevel.current_statistics().tasks_living
            started.append(
                Live(server, alice["access_token"], trio.lowlevel.current_trio_token(), tasks)
            )
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=trio.run, args=(main,))
    thread.start()
    ready.wait(30)
    try:
        yield started[0]
    finally:
        trio.from_thread.run_sync(stop.set, trio_token=started[0].trio_token)
        thread.join(30)


async def settle(server: RunningServer, baseline: int | None) -> None:
    """Until no socket is left in the hub (and the task count is back to `baseline`)."""
    with trio.fail_after(5):
        await server.app.extensions["veza.ws"].wait_idle()
        # Hypercorn's own tasks for the connection end a moment after ours; nothing signals it.
        while baseline is not None and trio.lowlevel.current_statistics().tasks_living > baseline:  # noqa: ASYNC110
            await trio.sleep(0.005)


async def exchange(live: Live, sent: list[str | bytes]) -> None:
    async with connect(live.server, live.token) as client:
        for frame in sent:
            await client.send(frame)
        await client.send({"type": "ping"})
        while (answer := await client.next())["type"] != "pong":
            assert answer["type"] in ("error", "subscribed", "unsubscribed"), answer
    await settle(live.server, live.baseline)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@pytest.mark.slow
@given(sent=st.lists(frames, min_size=1, max_size=5))
def test_generated_frames_never_kill_a_connection_or_leave_a_task(
    live: Live, sent: list[str | bytes]
) -> None:
    trio.from_thread.run(exchange, live, sent, trio_token=live.trio_token)
