"""The browser client: the static files shipped in `veza/web/`, served by the same process.

`/` and every client-side route (any GET outside the server's own prefixes) answer the one page,
`index.html`, so a reload or a shared link of `/tracks/<id>` opens the client there. The page
names its files under `assets/<version>/`, where the version is a digest of every file of the
client: they are cached for a year (immutable), and a new release is a new URL. ES modules import
each other by relative names, so they all share the page's version without a build step.

Every file is read once, in a thread, into memory (the client is a few dozen kilobytes), and is
found by its name in that map: no path is ever built from the request. The page is sent with a
strict Content-Security-Policy: nothing from another origin, no inline script or style.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

import trio
from quart import Blueprint, Response, request
from quart_schema import hide
from quart_trio import QuartTrio
from werkzeug.exceptions import NotFound as WerkzeugNotFound

from veza.errors import NotFound
from veza.transport.proxy import public_base

blueprint = Blueprint("web", __name__)

PAGE = "index.html"
ASSETS = "assets"
# Paths that belong to the server, never to the client: a miss there stays a JSON 404.
SERVER_PREFIXES = ("api/", "hls/", "ws", "health", "status", "metrics", f"{ASSETS}/")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_VERSION_PLACEHOLDER = "{{version}}"
_BASE_PLACEHOLDER = "{{base}}"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class Client:
    version: str
    page: str  # index.html with its placeholders left for each request's base
    assets: dict[str, Asset]  # by name relative to veza/web/, e.g. "js/app.js"


def _read_client() -> Client:
    root = resources.files("veza") / "web"
    files: dict[str, bytes] = {}

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
            elif PurePosixPath(name).suffix in _TYPES or name == PAGE:
                files[name] = child.read_bytes()

    walk(root, "")
    digest = hashlib.sha256()
    for name, body in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    version = digest.hexdigest()[:16]
    assets = {
        name: Asset(body, _TYPES[PurePosixPath(name).suffix], hashlib.sha256(body).hexdigest()[:32])
        for name, body in files.items()
        if name != PAGE
    }
    page = files[PAGE].decode().replace(_VERSION_PLACEHOLDER, version)
    return Client(version, page, assets)


_loaded: list[Client] = []
_lock = trio.Lock()


async def client() -> Client:
    """The client's files, read from the package on first use."""
    if not _loaded:
        async with _lock:
            if not _loaded:
                _loaded.append(await trio.to_thread.run_sync(_read_client))
    return _loaded[0]


def content_security_policy() -> str:
    """Nothing from another origin. WebSockets to this host are named as well as 'self' (older
    browsers do not count ws: as 'self'); blob: media is what Media Source Extensions play."""
    base = public_base()
    origin = base.split("/", 3)[:3]
    socket_origin = ("wss:" if origin[0] == "https:" else "ws:") + "//" + origin[2]
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"connect-src 'self' {socket_origin}; img-src 'self' blob: data:; "
        "media-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@blueprint.get("/")
@hide
async def page_root() -> Response:
    return await _page()


async def _client_route() -> Response | None:
    """A GET that no route matched, outside the server's own paths, is a client-side route
    (`/tracks/<id>`, `/upload`): the page, which routes itself. Done here rather than with a
    catch-all rule, so every other miss keeps its 404 or 405 as it was."""
    if (
        request.method not in ("GET", "HEAD")
        or request.url_rule is not None
        or not isinstance(request.routing_exception, WerkzeugNotFound)
    ):
        return None
    route = request.path.lstrip("/")
    if route.startswith(SERVER_PREFIXES) or "." in PurePosixPath(route).name:
        return None
    return await _page()


def install_web(app: QuartTrio) -> None:
    app.register_blueprint(blueprint)
    app.before_request(_client_route)


async def _page() -> Response:
    found = await client()
    # The base is where the client lives, so relative URLs work under a path prefix too.
    base = public_base().split("/", 3)[3:]
    prefix = "/" + (base[0].rstrip("/") + "/" if base and base[0] else "")
    body = found.page.replace(_BASE_PLACEHOLDER, prefix)
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    return _secure(await response.make_conditional(request))


@blueprint.get(f"/{ASSETS}/<version>/<path:name>")
@hide
async def asset(version: str, name: str) -> Response:
    """A file of the client. Under the current version it never changes; under another (a page
    from before an upgrade) it is today's file, not to be kept."""
    found = await client()
    file = found.assets.get(name)
    if file is None:
        raise NotFound("no such file")
    response = Response(file.body, content_type=file.content_type)
    response.headers["Cache-Control"] = _IMMUTABLE if version == found.version else "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(file.etag)
    return await response.make_conditional(request)
