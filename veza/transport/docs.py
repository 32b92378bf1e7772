"""/api/docs: Swagger UI over /api/openapi.json, served whole by Veza from the packaged copy in
`swagger-ui-bundle-v2`, so it works without internet. The page has no inline script or style
and is sent with a Content-Security-Policy that allows nothing from another origin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import swagger_ui_bundle
import trio
from quart import Blueprint, Response, request
from quart_schema import hide

from veza.errors import NotFound

blueprint = Blueprint("docs", __name__)

# Relative URLs: the page keeps working behind a proxy that mounts Veza under a prefix.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Veza API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" sizes="32x32" href="docs/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="docs/favicon-16x16.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="openapi.json"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/veza-docs.js"></script>
</body>
</html>
"""

# Starts Swagger UI on the element above; validatorUrl null: no badge fetched from elsewhere.
INIT_JS = """"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
"""

# data: images are the icons inlined in swagger-ui.css.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PACKAGED = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_cache: dict[str, tuple[bytes, str]] = {}


def packaged_dir() -> Path:
    return Path(str(swagger_ui_bundle.swagger_ui_path))


async def _asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and their ETag."""
    cached = _cache.get(name)
    if cached is None:
        if name == "veza-docs.js":
            body = INIT_JS.encode()
        else:
            # Read once, in a thread: the bundle is 1.5 MB, answered from memory after that.
            body = await trio.to_thread.run_sync((packaged_dir() / name).read_bytes)
        cached = _cache[name] = (body, hashlib.sha256(body).hexdigest()[:32])
    return cached


@blueprint.get("/api/docs")
@hide
async def docs_page() -> Response:
    response = Response(PAGE, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/api/docs/<name>")
@hide
async def docs_asset(name: str) -> Response:
    if name == "veza-docs.js":
        content_type = "text/javascript; charset=utf-8"
    elif name in _PACKAGED:
        content_type = _PACKAGED[name]
    else:
        raise NotFound("no such file")
    body, etag = await _asset(name)
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.set_etag(etag)
    return await response.make_conditional(request)
