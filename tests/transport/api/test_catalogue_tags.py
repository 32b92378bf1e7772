"""Tags and covers over real HTTP: MP3 (ID3v2), FLAC (Vorbis comments, picture block), OGG
Vorbis (comments, METADATA_BLOCK_PICTURE) and M4A (MP4 atoms) tagged by mutagen; form fields
that override them; PATCH; cover uploads, sizes, ETags, and hostile images refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error
from tests.support.tagged import (
    Tagging,
    jpeg,
    png_bomb,
    tagged_flac,
    tagged_m4a,
    tagged_mp3,
    tagged_ogg,
    truncated_jpeg,
)
from tests.support.tracks import write_music
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, default_visibility="public")


async def upload(server: RunningServer, token: str, path: Path, **fields: str) -> dict[str, Any]:
    with path.open("rb") as file:
        response = await server.client.post(
            "/api/v1/tracks",
            files={"file": (path.name, file, "application/octet-stream")},
            data=fields,
            headers=bearer(token),
        )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def size_of(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
        return image.size


WRITERS: dict[str, Callable[..., Path]] = {
    "mp3": tagged_mp3,
    "flac": tagged_flac,
    "ogg": tagged_ogg,
    "m4a": tagged_m4a,
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(WRITERS))
async def test_tags_and_the_embedded_cover_come_through(
    server: RunningServer, tmp_path: Path, kind: str
) -> None:
    token = (await register(server.client, "tagger"))["access_token"]
    cover = jpeg(600, 400)
    path = WRITERS[kind](tmp_path / f"song.{kind}", Tagging(), cover)
    track = await upload(server, token, path)
    expected = Tagging()
    assert {k: track[k] for k in ("title", "artist", "album", "album_artist", "genre")} == {
        "title": expected.title,
        "artist": expected.artist,
        "album": expected.album,
        "album_artist": expected.album_artist,
        "genre": expected.genre,
    }
    assert (track["track_number"], track["disc_number"], track["year"]) == (3, 2, 2019)
    assert track["replaygain"]["track_gain_db"] == pytest.approx(-6.5)
    assert track["replaygain"]["track_peak"] == pytest.approx(0.988235)
    assert track["duration_s"] == pytest.approx(1.0, abs=0.1)  # the probe's, from the audio
    assert track["visibility"] == "public"  # this server's default_visibility
    assert track["cover_url"] and track["album_id"] and track["artist_id"]

    got = await server.client.get(track["cover_url"], headers=bearer(token))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    # The front cover (the MP3 also holds a small back cover), re-encoded, aspect kept.
    assert size_of(got.content) == (512, 341)
    assert got.content != cover


async def test_form_fields_override_the_files_tags(server: RunningServer, tmp_path: Path) -> None:
    token = (await register(server.client, "overrider"))["access_token"]
    path = tagged_flac(tmp_path / "song.flac", Tagging())
    track = await upload(
        server,
        token,
        path,
        title="My Own Title",
        track_number="7",
        year="1999",
        genre="Jazz",
        visibility="unlisted",
    )
    assert (track["title"], track["artist"]) == ("My Own Title", "Beyoncé")
    assert (track["track_number"], track["disc_number"], track["year"]) == (7, 2, 1999)
    assert (track["genre"], track["visibility"]) == ("Jazz", "unlisted")
    assert track["cover_url"] is None  # none in the file, none uploaded
    no_cover = await server.client.get(f"/api/v1/tracks/{track['id']}/cover", headers=bearer(token))
    assert_error(no_cover, 404, "not_found")
    for field, value in (("year", "nineteen"), ("track_number", "0"), ("visibility", "secret")):
        with path.open("rb") as file:
            refused = await server.client.post(
                "/api/v1/tracks",
                files={"file": ("a.flac", file)},
                data={field: value},
                headers=bearer(token),
            )
        assert_error(refused, 422, "validation_failed")
        assert field in refused.json()["error"]["message"]


async def test_patch_edits_tags_for_the_owner_a_moderator_or_an_admin(
    server: RunningServer, tmp_path: Path
) -> None:
    owner = (await register(server.client, "owner1"))["access_token"]
    other = (await register(server.client, "other1"))["access_token"]
    moderator = await register(server.client, "mod1")
    await server.store.accounts.set_role(moderator["user"]["id"], "moderator", 0.0)
    track = await upload(server, owner, write_music(tmp_path / "a.wav", 0.5))
    url = f"/api/v1/tracks/{track['id']}"

    edited = await server.client.patch(
        url,
        json={"title": "Nuit Étoilée", "album": "Ciel", "track_number": 4, "year": None},
        headers=bearer(owner),
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["title"], body["album"], body["track_number"], body["year"]) == (
        "Nuit Étoilée",
        "Ciel",
        4,
        None,
    )
    assert body["artist"] == track["artist"]  # left out: unchanged
    # The search follows the edit at once (folded words are written with it).
    found = await server.client.get(
        "/api/v1/tracks", params={"q": "etoilee"}, headers=bearer(owner)
    )
    assert [t["id"] for t in found.json()["items"]] == [track["id"]]

    refused = await server.client.patch(url, json={"title": "Mine"}, headers=bearer(other))
    assert_error(refused, 403, "forbidden")
    by_moderator = await server.client.patch(
        url, json={"genre": "Ambient"}, headers=bearer(moderator["access_token"])
    )
    assert by_moderator.status_code == 200 and by_moderator.json()["genre"] == "Ambient"
    for mistake in ({"title": ""}, {"visibility": "hidden"}, {"year": 0}, {"title": "a\x00"}):
        response = await server.client.patch(url, json=mistake, headers=bearer(owner))
        assert_error(response, 422, "validation_failed")
    unknown = await server.client.patch(url, json={"owner_id": "x"}, headers=bearer(owner))
    assert_error(unknown, 422, "validation_failed")


async def test_an_uploaded_cover_comes_in_every_size_with_etags(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "painter"))["access_token"]
    track = await upload(server, token, write_music(tmp_path / "a.wav", 0.5))
    url = f"/api/v1/tracks/{track['id']}/cover"
    put = await server.client.put(
        url, content=jpeg(2000, 1500), headers={**bearer(token), "Content-Type": "image/jpeg"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["cover_url"]
    expected = {64: (64, 48), 100: (128, 96), 256: (256, 192), 600: (1024, 768), 5000: (1024, 768)}
    for asked, dimensions in expected.items():
        got = await server.client.get(url, params={"size": asked}, headers=bearer(token))
        assert got.status_code == 200
        assert size_of(got.content) == dimensions
        assert "max-age=86400" in got.headers["cache-control"]
    first = await server.client.get(url, headers=bearer(token))
    etag = first.headers["etag"]
    again = await server.client.get(url, headers={**bearer(token), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    versioned = await server.client.get(put.json()["cover_url"], headers=bearer(token))
    assert "immutable" in versioned.headers["cache-control"]

    # A new cover: a new ETag, and the old one no longer answers 304.
    await server.client.put(
        url,
        content=jpeg(300, 300, (0, 90, 0)),
        headers={**bearer(token), "Content-Type": "image/png"},
    )
    changed = await server.client.get(url, headers={**bearer(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert size_of(changed.content) == (300, 300)  # never enlarged


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (png_bomb(), "image/png", 422, "validation_failed"),
        (truncated_jpeg(), "image/jpeg", 422, "validation_failed"),
        (b"these are not pixels" * 50, "image/jpeg", 415, "unsupported_media_type"),
        (b"", "image/jpeg", 422, "validation_failed"),
        (jpeg(), "application/json", 415, "unsupported_media_type"),
        (b"\xff" * (17 * 1024 * 1024), "image/jpeg", 413, "payload_too_large"),
    ],
    ids=["bomb", "truncated", "not-an-image", "empty", "wrong-type", "too-large"],
)
@pytest.mark.slow
async def test_hostile_images_are_refused(
    server: RunningServer, tmp_path: Path, body: bytes, content_type: str, status: int, code: str
) -> None:
    token = (await register(server.client, "mallory"))["access_token"]
    track = await upload(server, token, write_music(tmp_path / "a.wav", 0.5))
    url = f"/api/v1/tracks/{track['id']}/cover"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        refused = await client.put(
            url, content=body, headers={**bearer(token), "Content-Type": content_type}
        )
    assert_error(refused, status, code)
    assert "/" not in refused.json()["error"]["message"].replace("image/", "")
    # Nothing stored: still no cover.
    assert (await server.client.get(url, headers=bearer(token))).status_code == 404


async def test_a_damaged_embedded_picture_does_not_stop_the_upload(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "careless"))["access_token"]
    track = await upload(server, token, tagged_flac(tmp_path / "a.flac", cover=png_bomb()))
    assert track["title"] == Tagging().title and track["cover_url"] is None
