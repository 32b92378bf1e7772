"""The browser client served by Veza: the page at / and at client routes with its
Content-Security-Policy, versioned assets cached for good, and the server's own misses kept JSON."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.accounts import fast_settings
from tests.support.server import RunningServer, assert_error, serving
from veza.config import Settings

WEB = Path(__file__).parents[2] / "veza" / "web"
# `from "./x.js"`, `import("../y.js")`, `import(`./pages/${name}.js`)` (dynamic: not followed)
IMPORT = r'(?:from|import)\s*\(?\s*[`"](\.{1,2}/[^`"$]+)[`"]'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


def assets_of(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(assets/[^"]+)"', page)


async def test_the_page_is_served_at_the_root_with_a_strict_policy(server: RunningServer) -> None:
    response = await server.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    host = server.url.split("//")[1]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src 'self' ws://{host}",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<base href="/">' in response.text
    # No inline script or style anywhere in the page.
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert "<style" not in response.text and "style=" not in response.text


async def test_client_routes_answer_the_page(server: RunningServer) -> None:
    root = await server.client.get("/")
    for path in ("/tracks/0123abcd", "/upload", "/account", "/signin", "/some/deep/route"):
        response = await server.client.get(path)
        assert response.status_code == 200, path
        assert response.text == root.text
        assert "content-security-policy" in response.headers


async def test_server_paths_keep_their_json_errors(server: RunningServer) -> None:
    for path in ("/api/v1/nothing", "/api/nothing", "/hls/nothing", "/missing.js", "/assets/x"):
        assert_error(await server.client.get(path), 404, "not_found")
    assert_error(await server.client.post("/upload"), 404, "not_found")
    assert_error(await server.client.put("/api/v1/tracks"), 405, "method_not_allowed")
    assert (await server.client.get("/health")).json() == {"status": "ok"}


async def test_assets_are_versioned_and_cached_for_good(server: RunningServer) -> None:
    page = (await server.client.get("/")).text
    names = assets_of(page)
    assert any(name.endswith("js/app.js") for name in names)
    assert any(name.endswith("app.css") for name in names)
    for name in names:
        response = await server.client.get(f"/{name}")
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["etag"]
        relative = name.split("/", 2)[2]
        assert response.content == (WEB / relative).read_bytes()
        again = await server.client.get(
            f"/{name}", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304
    script = await server.client.get(f"/{next(n for n in names if n.endswith('.js'))}")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_an_old_version_gets_todays_file_uncached(server: RunningServer) -> None:
    response = await server.client.get("/assets/0000000000000000/js/app.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert_error(await server.client.get("/assets/0000/js/nothing.js"), 404, "not_found")
    assert_error(await server.client.get("/assets/0000/../pyproject.toml"), 404, "not_found")


async def test_every_module_imported_is_shipped(server: RunningServer) -> None:
    """Each relative import of each module names a file the server sends."""
    page = (await server.client.get("/")).text
    app = next(n for n in assets_of(page) if n.endswith("js/app.js"))
    prefix = app.rsplit("/", 2)[0]
    seen: set[str] = set()
    todo = ["js/app.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = await server.client.get(f"/{prefix}/{name}")
        assert response.status_code == 200, name
        folder = name.rsplit("/", 1)[0]
        for target in re.findall(IMPORT, response.text):
            todo.append(_normal(folder, target))
    assert {"js/api.js", "js/player/engine.js", "js/player/hls.js"} <= seen


def _normal(folder: str, target: str) -> str:
    parts = folder.split("/")
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


async def test_under_a_path_prefix_the_base_and_policy_follow_public_url(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, public_url="https://music.example/veza")
    async with serving(settings) as server:
        response = await server.client.get("/library")
        assert '<base href="/veza/">' in response.text
        policy = response.headers["content-security-policy"]
        assert "connect-src 'self' wss://music.example" in policy


async def test_the_package_data_lists_the_client() -> None:
    """A non-editable install ships veza/web (pyproject's package data)."""
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"web/**/*"' in pyproject
    assert (WEB / "index.html").is_file()
