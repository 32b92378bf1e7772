"""A playlist's cover, on SQLite and PostgreSQL: that of its first track with one, or one the
owner uploads (re-encoded by the catalogue's cover rules), with If-Match and the permission
table; its files go with the playlist."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support.playlists import account, add, create_playlist, invite, read, ready_track
from tests.support.server import RunningServer, assert_error
from tests.support.tagged import jpeg, truncated_jpeg


def size_of(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
        return image.size


@pytest.mark.slow
async def test_covers_come_from_the_tracks_or_an_upload(server: RunningServer) -> None:
    client = server.client
    owner = await account(server, "owner")
    editor = await account(server, "editor")
    plain = await ready_track(server, owner, "plain")
    pictured = await ready_track(server, owner, "pictured")
    put = await client.put(
        f"/api/v1/tracks/{pictured}/cover",
        content=jpeg(300, 300, (0, 0, 200)),
        headers={**owner.headers, "Content-Type": "image/jpeg"},
    )
    assert put.status_code in (200, 204), put.text
    playlist = await create_playlist(client, owner)
    playlist_id, base = playlist["id"], f"/api/v1/playlists/{playlist['id']}"
    assert playlist["cover_url"] is None
    assert_error(await client.get(f"{base}/cover", headers=owner.headers), 404, "not_found")

    await add(client, owner, playlist_id, [plain, pictured, plain])
    await invite(client, owner, playlist_id, editor, "editor")
    current = await read(client, owner, playlist_id)
    assert current["cover_track_ids"] == [pictured]
    assert current["cover_url"] == f"{base}/cover"
    listed = await client.get("/api/v1/playlists?scope=shared", headers=editor.headers)
    (summary,) = listed.json()["items"]
    assert (summary["id"], summary["role"], summary["track_count"]) == (playlist_id, "editor", 3)
    assert (summary["cover_track_ids"], summary["duration_s"]) == ([pictured], 180.0)
    from_track = await client.get(f"{base}/cover", headers=editor.headers)
    assert from_track.status_code == 200
    track_cover = await client.get(f"/api/v1/tracks/{pictured}/cover", headers=owner.headers)
    assert from_track.content == track_cover.content

    image = jpeg(900, 600, (10, 200, 10))
    typed = {"Content-Type": "image/jpeg"}
    refused = await client.put(f"{base}/cover", content=image, headers={**editor.headers, **typed})
    assert_error(refused, 403, "forbidden")
    stale = await client.put(
        f"{base}/cover",
        content=image,
        headers={**owner.headers, **typed, "If-Match": '"v1"'},
    )
    assert_error(stale, 412, "precondition_failed")
    broken = await client.put(
        f"{base}/cover", content=truncated_jpeg(), headers={**owner.headers, **typed}
    )
    assert_error(broken, 422, "validation_failed")
    text = await client.put(
        f"{base}/cover", content=b"hello", headers={**owner.headers, "Content-Type": "text/plain"}
    )
    assert_error(text, 415, "unsupported_media_type")

    uploaded = await client.put(
        f"{base}/cover",
        content=image,
        headers={**owner.headers, **typed, "If-Match": f'"v{current["version"]}"'},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["version"] == current["version"] + 1
    url = uploaded.json()["cover_url"]
    assert url.startswith(f"{base}/cover?v=")
    served = await client.get(url, headers=editor.headers)
    assert served.status_code == 200 and served.content != track_cover.content
    assert size_of(served.content) == (512, 341)  # re-encoded at the default size
    small = await client.get(f"{base}/cover?size=64", headers=editor.headers)
    assert size_of(small.content) == (64, 43)
    again = await client.get(
        f"{base}/cover", headers={**editor.headers, "If-None-Match": served.headers["etag"]}
    )
    assert again.status_code == 304

    removed = await client.delete(f"{base}/cover", headers=owner.headers)
    assert removed.status_code == 200 and removed.json()["cover_url"] == f"{base}/cover"
    assert (await client.get(f"{base}/cover", headers=owner.headers)).content == track_cover.content

    await client.put(f"{base}/cover", content=image, headers={**owner.headers, **typed})
    folder = server.settings.playlist_covers_dir / playlist_id
    assert folder.is_dir()
    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    assert not folder.exists()
