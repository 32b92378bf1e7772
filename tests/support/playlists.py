"""Helpers for the playlist tests: accounts, ready track rows without a transcode, and the
playlist routes in a few words."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.accounts import bearer, register
from tests.support.server import RunningServer
from veza.store.tracks import Measurements, NewTrack


@dataclass(frozen=True)
class Account:
    user_id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def account(server: RunningServer, username: str, role: str | None = None) -> Account:
    """A registered account; with `role`, given that role (as an admin would)."""
    body = await register(server.client, username)
    user_id = body["user"]["id"]
    if role is not None:
        await server.store.accounts.set_role(user_id, role, 0.0)
    return Account(user_id, username, body["access_token"])


async def ready_track(
    server: RunningServer,
    owner: Account,
    title: str,
    artist: str = "",
    *,
    duration_s: float = 60.0,
    filename: str | None = None,
) -> str:
    """A track row that says it is ready (no file behind it): enough for everything about
    playlists except playing it."""
    track_id = secrets.token_hex(12)
    await server.store.tracks.create(
        NewTrack(
            id=track_id,
            owner_id=owner.user_id,
            title=title,
            artist=artist,
            album="",
            original_name=filename or f"{title}.flac",
            original_ext=".flac",
            original_bytes=1000,
        )
    )
    await server.store.tracks.mark_ready(
        track_id, 1, "aac:128", Measurements(duration_s, -14.0, -1.0, 0.0, [], normalised=True)
    )
    return track_id


async def create_playlist(
    client: httpx.AsyncClient, who: Account, name: str = "Mix", visibility: str = "private"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/playlists", json={"name": name, "visibility": visibility}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def invite(
    client: httpx.AsyncClient, owner: Account, playlist_id: str, who: Account, role: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/playlists/{playlist_id}/collaborators",
        json={"user_id": who.user_id, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add(
    client: httpx.AsyncClient,
    who: Account,
    playlist_id: str,
    track_ids: list[str],
    position: int | None = None,
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"track_ids": track_ids}
    if position is not None:
        body["position"] = position
    response = await client.post(
        f"/api/v1/playlists/{playlist_id}/entries/batch", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def read(client: httpx.AsyncClient, who: Account, playlist_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/playlists/{playlist_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"v{response.json()["version"]}"'
    body: dict[str, Any] = response.json()
    return body
