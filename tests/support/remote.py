"""A user of a Veza reached only over HTTP (a `veza serve` child, the one-file build): sign
up, sign in, upload, wait for a track, play it the way an HLS player does. Blocking calls."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.support.accounts import PASSWORD, bearer


class Remote:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.client.close()

    def register(self, username: str) -> str:
        """A new account; returns its access token."""
        response = self.client.post(
            "/api/v1/auth/register",
            json={"email": f"{username}@example.org", "username": username, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def login(self, username: str) -> str:
        response = self.client.post(
            "/api/v1/auth/login", json={"login": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def get(self, path: str, token: str) -> Any:
        response = self.client.get(path, headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, token: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, headers=bearer(token), json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def upload(self, token: str, path: Path, title: str) -> str:
        with path.open("rb") as file:
            response = self.client.post(
                "/api/v1/tracks",
                headers=bearer(token),
                files={"file": (path.name, file, "audio/wav")},
                data={"title": title},
            )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def tracks(self, token: str) -> list[dict[str, Any]]:
        """Every track this user can list, following the cursor."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            response = self.client.get("/api/v1/tracks", headers=bearer(token), params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    def wait_ready(self, token: str, track_id: str, limit_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            track: dict[str, Any] = self.get(f"/api/v1/tracks/{track_id}", token)
            if track["status"] == "ready":
                return track
            assert track["status"] == "processing", track
            if time.monotonic() > deadline:
                raise TimeoutError(f"track {track_id} still processing")
            time.sleep(0.2)

    def play(self, token: str, track_id: str) -> int:
        """Fetch the master playlist, the first variant's media playlist and every one of its
        segments, as a player would; return the bytes of audio received."""
        deadline = time.monotonic() + 120
        while True:  # a ready track whose renditions are being made again answers 409 meanwhile
            response = self.client.get(f"/api/v1/tracks/{track_id}/stream", headers=bearer(token))
            if response.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        master_url = response.json()["hls_url"]
        master = self.client.get(master_url)
        assert master.status_code == 200, master.text
        variant = next(line for line in master.text.splitlines() if line and line[0] != "#")
        media_url = urljoin(master_url, variant)
        media = self.client.get(media_url)
        assert media.status_code == 200 and "#EXT-X-ENDLIST" in media.text, media.text
        received = 0
        for line in media.text.splitlines():
            if line and not line.startswith("#"):
                segment = self.client.get(urljoin(media_url, line))
                assert segment.status_code == 200
                received += len(segment.content)
        return received
