"""Music folders meet the catalogue: a cover beside a file becomes its cover (a broken one is
skipped), the tags of the files come through, and `music_folder_visibility` applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import eventually
from tests.support.accounts import bearer, fast_settings, make_admin, register
from tests.support.server import serving
from tests.support.tagged import Tagging, jpeg, tagged_flac, truncated_jpeg


@pytest.mark.parametrize("visibility", ["public", "unlisted"])
async def test_covers_beside_files_tags_and_folder_visibility(
    tmp_path: Path, visibility: str
) -> None:
    music = tmp_path / "music"
    (music / "Good").mkdir(parents=True)
    (music / "Broken").mkdir()
    tagged_flac(music / "Good" / "a.flac", Tagging(title="Good One"))
    (music / "Good" / "cover.jpg").write_bytes(jpeg(300, 300))
    tagged_flac(music / "Broken" / "b.flac", Tagging(title="Broken One", track=4))
    (music / "Broken" / "folder.jpg").write_bytes(truncated_jpeg())
    settings = fast_settings(
        tmp_path, music_folders=str(music), music_folder_visibility=visibility, job_workers=1
    )
    async with serving(settings) as server:

        async def scanned() -> bool:
            return await server.store.folders.last_scan() is not None

        await eventually(scanned, limit_s=60)
        admin = (await make_admin(server))["access_token"]
        user = (await register(server.client, "listener"))["access_token"]
        rows = await server.store.database.fetch_all("SELECT id, title, visibility FROM tracks")
        by_title = {row["title"]: row for row in rows}
        assert set(by_title) == {"Good One", "Broken One"}
        # Library tracks have no owner: lists show them only when public.
        listed = await server.client.get("/api/v1/tracks", headers=bearer(admin))
        assert len(listed.json()["items"]) == (2 if visibility == "public" else 0)
        for track in by_title.values():
            assert track["visibility"] == visibility
            got = await server.client.get(f"/api/v1/tracks/{track['id']}", headers=bearer(user))
            assert got.status_code == 200  # by id: public and unlisted alike
        good = by_title["Good One"]["id"]
        cover = await server.client.get(f"/api/v1/tracks/{good}/cover", headers=bearer(user))
        assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
        broken = by_title["Broken One"]["id"]
        missing = await server.client.get(f"/api/v1/tracks/{broken}/cover", headers=bearer(user))
        assert missing.status_code == 404
        detail = (await server.client.get(f"/api/v1/tracks/{broken}", headers=bearer(user))).json()
        assert (detail["artist"], detail["track_number"], detail["year"]) == ("Beyoncé", 4, 2019)
