"""/original asked for with a token is never cached for others: Cache-Control private, and
revalidated (a cheap 304) so a browser shared by several people asks the server each time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.tracks import write_music
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


def directives(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


async def test_the_original_answered_with_a_token_is_private(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "ada"))["access_token"]
    music = write_music(tmp_path / "short.wav", 2)
    with music.open("rb") as file:
        uploaded = await server.client.post(
            "/api/v1/tracks", files={"file": ("short.wav", file)}, headers=bearer(token)
        )
    assert uploaded.status_code == 202, uploaded.text
    url = f"/api/v1/tracks/{uploaded.json()['id']}/original"

    whole = await server.client.get(url, headers=bearer(token))
    assert whole.status_code == 200
    assert whole.content == music.read_bytes()
    assert directives(whole.headers["cache-control"]) == {"private", "no-cache"}
    assert "expires" not in whole.headers

    part = await server.client.get(url, headers={**bearer(token), "Range": "bytes=0-99"})
    assert part.status_code == 206
    assert len(part.content) == 100
    assert "public" not in directives(part.headers["cache-control"])
    assert "private" in directives(part.headers["cache-control"])

    again = await server.client.get(
        url, headers={**bearer(token), "If-None-Match": whole.headers["etag"]}
    )
    assert again.status_code == 304
    assert "public" not in directives(again.headers.get("cache-control", "private"))
