"""Privacy as a matrix over real HTTP: every role against every visibility and every read path
(the track, its original, its HLS grant, its waveform, its cover, its listening stats, lists,
search, albums, artists). Private: the owner, moderators and admins; unlisted: any signed-in
account but a guest, by id only; public: everyone. What a caller may not see answers 404, as
if absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import bearer, fast_settings, make_admin, register
from tests.support.server import RunningServer, assert_error
from tests.support.tagged import jpeg
from tests.support.tracks import write_music
from veza.config import Settings

VISIBILITIES = ("private", "unlisted", "public")
ROLES = ("owner", "user", "guest", "moderator", "admin")
# Who sees a track by its id, and who finds it in lists (search, albums, artists too).
SEES = {
    "private": {"owner", "moderator", "admin"},
    "unlisted": {"owner", "user", "moderator", "admin"},
    "public": set(ROLES),
}
LISTS = {"private": {"owner"}, "unlisted": {"owner"}, "public": set(ROLES)}
# What each by-id action answers to someone who sees the track (the transcode may or may not
# have finished: a grant or the waveform is 409 until it has).
SEEN_STATUSES = {
    "track": {200},
    "original": {200},
    "stream": {200, 409},
    "waveform": {200, 409},
    "cover": {200},
    "stats": {200},
    "album": {200},
    "artist": {200},
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, job_workers=1)


async def accounts(server: RunningServer) -> dict[str, str]:
    tokens = {role: (await register(server.client, role))["access_token"] for role in ROLES[:3]}
    guest = (await server.client.get("/api/v1/me", headers=bearer(tokens["guest"]))).json()
    await server.store.accounts.set_role(guest["id"], "guest", 0.0)
    moderator = await register(server.client, "moderator")
    await server.store.accounts.set_role(moderator["user"]["id"], "moderator", 0.0)
    tokens["moderator"] = moderator["access_token"]
    tokens["admin"] = (await make_admin(server, "admin"))["access_token"]
    return tokens


async def add_track(
    server: RunningServer, token: str, source: Path, visibility: str
) -> dict[str, Any]:
    word = f"zq{visibility}"  # a word only this track has: its title, artist and album
    with source.open("rb") as file:
        response = await server.client.post(
            "/api/v1/tracks",
            files={"file": ("a.wav", file, "audio/wav")},
            data={"title": word, "artist": word, "album": word, "visibility": visibility},
            headers=bearer(token),
        )
    assert response.status_code == 202, response.text
    track: dict[str, Any] = response.json()
    assert track["visibility"] == visibility
    cover = await server.client.put(
        f"/api/v1/tracks/{track['id']}/cover",
        content=jpeg(64, 64),
        headers={**bearer(token), "Content-Type": "image/jpeg"},
    )
    assert cover.status_code == 200
    return track


def by_id_urls(track: dict[str, Any]) -> dict[str, str]:
    base = f"/api/v1/tracks/{track['id']}"
    return {
        "track": base,
        "original": f"{base}/original",
        "stream": f"{base}/stream",
        "waveform": f"{base}/waveform",
        "cover": f"{base}/cover",
        "stats": f"{base}/stats",
        "album": f"/api/v1/albums/{track['album_id']}",
        "artist": f"/api/v1/artists/{track['artist_id']}",
    }


async def listed_in(server: RunningServer, token: str, track: dict[str, Any]) -> dict[str, bool]:
    """Whether the track shows in each list the caller can ask for."""

    async def ids(path: str, **params: Any) -> set[str]:
        response = await server.client.get(path, params=params, headers=bearer(token))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    word = track["title"]
    return {
        "list": track["id"] in await ids("/api/v1/tracks"),
        "search": track["id"] in await ids("/api/v1/tracks", q=word),
        "filtered": track["id"] in await ids("/api/v1/tracks", album=track["album_id"]),
        "albums": track["album_id"] in await ids("/api/v1/albums"),
        "artists": track["artist_id"] in await ids("/api/v1/artists"),
    }


@pytest.mark.slow
async def test_the_privacy_matrix(server: RunningServer, tmp_path: Path) -> None:
    tokens = await accounts(server)
    tracks = {
        v: await add_track(
            server, tokens["owner"], write_music(tmp_path / f"{v}.wav", 0.5 + i / 10), v
        )
        for i, v in enumerate(VISIBILITIES)
    }
    wrong: list[str] = []
    for visibility, track in tracks.items():
        for role in ROLES:
            token = tokens[role]
            for action, url in by_id_urls(track).items():
                response = await server.client.get(url, headers=bearer(token))
                if (
                    role in SEES[visibility] and action not in ("album", "artist")
                ) or role in LISTS[visibility]:
                    expected = SEEN_STATUSES[action]
                else:
                    expected = {404}
                if response.status_code not in expected:
                    wrong.append(f"{role} {action} {visibility}: {response.status_code}")
                elif response.status_code == 404:
                    assert_error(response, 404, "not_found")
            for action, shown in (await listed_in(server, token, track)).items():
                if shown != (role in LISTS[visibility]):
                    wrong.append(f"{role} {action} {visibility}: listed={shown}")
    assert wrong == []


async def test_edits_follow_visibility_and_unseen_tracks_stay_unseen(
    server: RunningServer, tmp_path: Path
) -> None:
    tokens = await accounts(server)
    source = write_music(tmp_path / "a.wav", 0.5)
    track = await add_track(server, tokens["owner"], source, "public")
    url = f"/api/v1/tracks/{track['id']}"
    # A user who sees a public track may not edit it: 403 (they know it exists).
    refused = await server.client.patch(url, json={"title": "x"}, headers=bearer(tokens["user"]))
    assert_error(refused, 403, "forbidden")
    hidden = await server.client.patch(
        url, json={"visibility": "private"}, headers=bearer(tokens["owner"])
    )
    assert hidden.status_code == 200 and hidden.json()["visibility"] == "private"
    # Now private: another user gets 404 for reading, editing, a cover or deleting alike.
    user = bearer(tokens["user"])
    assert_error(await server.client.get(url, headers=user), 404, "not_found")
    assert_error(
        await server.client.patch(url, json={"title": "x"}, headers=user), 404, "not_found"
    )
    cover = await server.client.put(
        f"{url}/cover", content=jpeg(), headers={**user, "Content-Type": "image/jpeg"}
    )
    assert_error(cover, 404, "not_found")
    assert_error(await server.client.delete(url, headers=user), 404, "not_found")
    # A moderator sees it and may make it public again.
    shown = await server.client.patch(
        url, json={"visibility": "public"}, headers=bearer(tokens["moderator"])
    )
    assert shown.status_code == 200
    assert (await server.client.get(url, headers=bearer(tokens["guest"]))).status_code == 200


async def test_the_default_visibility_is_private_unless_configured(
    server: RunningServer, tmp_path: Path
) -> None:
    owner = (await register(server.client, "ann"))["access_token"]
    other = (await register(server.client, "bob"))["access_token"]
    source = write_music(tmp_path / "a.wav", 0.5)
    with source.open("rb") as file:
        response = await server.client.post(
            "/api/v1/tracks", files={"file": ("a.wav", file)}, headers=bearer(owner)
        )
    track = response.json()
    assert track["visibility"] == "private"
    hidden = await server.client.get(f"/api/v1/tracks/{track['id']}", headers=bearer(other))
    assert_error(hidden, 404, "not_found")
