"""The OpenAPI document: valid, complete (bodies, tags, every error in the one shape), and
browsable offline at /api/docs."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from openapi_spec_validator import validate
from quart import Blueprint

from tests.support.server import RunningServer
from veza.accounts import Permission
from veza.transport.guard import public, require
from veza.transport.openapi import errors

ERROR_REF = "#/components/schemas/ErrorBody"


async def spec_of(server: RunningServer) -> dict[str, Any]:
    response = await server.client.get("/api/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


@pytest.mark.slow
async def test_the_served_document_passes_openapi_spec_validator(server: RunningServer) -> None:
    validate(await spec_of(server))


async def test_every_operation_has_a_tag_responses_and_errors_in_the_error_shape(
    server: RunningServer,
) -> None:
    spec = await spec_of(server)
    declared_tags = {tag["name"] for tag in spec["tags"]}
    found = operations(spec)
    assert len(found) >= 22
    assert not any(label.startswith("GET /hls/") for label in found)  # hidden
    for label, operation in found.items():
        assert operation.get("tags"), label
        assert set(operation["tags"]) <= declared_tags, label
        assert operation.get("summary"), label
        statuses = operation["responses"]
        # A success: 2xx, or 101 for the WebSocket's handshake.
        assert any(status.startswith("2") or status == "101" for status in statuses), label
        for status, response in statuses.items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (label, status)
        if operation.get("security"):
            assert "401" in statuses, label
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(statuses), label
        if "{" in label:
            assert "404" in statuses, label
    error = spec["components"]["schemas"]["ErrorDetail"]
    assert {"code", "message", "request_id"} <= set(error["required"])


async def test_route_specific_statuses_are_documented(server: RunningServer) -> None:
    found = operations(await spec_of(server))

    def statuses(label: str) -> set[str]:
        return set(found[label]["responses"])

    assert {"201", "400", "409", "413", "422", "429"} <= statuses("POST /api/v1/auth/register")
    assert {"200", "401", "403", "429"} <= statuses("POST /api/v1/auth/login")
    assert statuses("POST /api/v1/auth/logout") == {"204", "401"}
    assert {"200", "401", "403", "422"} <= statuses("GET /api/v1/admin/users")
    assert {"202", "401", "403", "413", "415", "422"} <= statuses("POST /api/v1/tracks")
    assert {"409"} <= statuses("GET /api/v1/tracks/{track_id}/stream")
    assert statuses("GET /status") == {"200", "503"}
    for label in (
        "PATCH /api/v1/playlists/{playlist_id}",
        "DELETE /api/v1/playlists/{playlist_id}",
        "POST /api/v1/playlists/{playlist_id}/entries",
        "POST /api/v1/playlists/{playlist_id}/entries/batch",
        "DELETE /api/v1/playlists/{playlist_id}/entries/{entry_id}",
        "POST /api/v1/playlists/{playlist_id}/entries/{entry_id}/move",
        "POST /api/v1/playlists/{playlist_id}/collaborators",
        "PATCH /api/v1/playlists/{playlist_id}/collaborators/{user_id}",
        "DELETE /api/v1/playlists/{playlist_id}/collaborators/{user_id}",
        "POST /api/v1/playlists/{playlist_id}/transfer",
        "PUT /api/v1/playlists/{playlist_id}/cover",
        "DELETE /api/v1/playlists/{playlist_id}/cover",
    ):
        assert {"401", "403", "404", "412"} <= statuses(label), label
        headers = [p["name"] for p in found[label].get("parameters", []) if p["in"] == "header"]
        assert headers == ["if-match"], label
    assert {"201", "413", "415", "422"} <= statuses("POST /api/v1/playlists/import")
    assert {"409"} <= statuses("POST /api/v1/playlists/{playlist_id}/collaborators")
    assert {"200", "422"} <= statuses("PUT /api/v1/me/queue")
    retry_after = found["POST /api/v1/auth/login"]["responses"]["429"]["headers"]
    assert retry_after["Retry-After"]["required"] is True


async def test_the_websocket_is_documented_and_a_plain_get_gets_its_426(
    server: RunningServer,
) -> None:
    socket = operations(await spec_of(server))["GET /ws"]
    assert socket["tags"] == ["websocket"]
    assert set(socket["responses"]) == {"101", "426"}
    assert "docs/websocket.md" in socket["description"]
    upgrade = socket["responses"]["426"]["headers"]["Upgrade"]
    assert upgrade["schema"]["enum"] == ["websocket"]
    # What the document says a plain GET gets (schemathesis checks the body's schema too).
    response = await server.client.get("/ws")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.json()["error"]["code"] == "upgrade_required"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.slow
async def test_the_upload_documents_its_multipart_body(server: RunningServer) -> None:
    upload = operations(await spec_of(server))["POST /api/v1/tracks"]
    assert upload["requestBody"]["required"] is True
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"] == {**schema["properties"]["file"], "format": "binary"}
    for name in ("title", "artist", "album"):
        assert schema["properties"][name]["type"] == "string"


async def test_a_new_route_gets_its_errors_from_the_guard_and_its_schema(
    server: RunningServer,
) -> None:
    blueprint = Blueprint("probe", __name__)

    @blueprint.get("/api/v1/probe/<thing_id>")
    @require(Permission.UPLOAD)
    async def probe(thing_id: str) -> dict[str, str]:
        """A route added after start-up, documented by what it declares."""
        return {"id": thing_id}

    @blueprint.post("/api/v1/open-probe")
    @public
    @errors(409, why={409: "conflict: already probed"})
    async def open_probe() -> dict[str, str]:
        """A public route with one error of its own."""
        return {}

    server.app.register_blueprint(blueprint)
    found = operations(await spec_of(server))
    guarded = found["GET /api/v1/probe/{thing_id}"]["responses"]
    assert set(guarded) == {"200", "401", "403", "404"} - {"200"}
    open_responses = found["POST /api/v1/open-probe"]["responses"]
    assert set(open_responses) == {"409"}
    assert open_responses["409"]["description"] == "conflict: already probed"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "data-openapi-url"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if "style" in values:
            self.inline_styles += 1
        self._in_script = tag == "script"
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.inline_styles += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


async def test_the_docs_page_and_everything_it_loads_are_served_by_veza(
    server: RunningServer,
) -> None:
    page = await server.client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "http://" not in page.text and "https://" not in page.text
    parsed = _References()
    parsed.feed(page.text)
    assert parsed.inline_scripts == 0 and parsed.inline_styles == 0
    assert len(parsed.urls) >= 5
    base = f"{server.url}/api/docs"
    for reference in parsed.urls:
        url = urljoin(base, reference)
        assert urlsplit(url).netloc == urlsplit(server.url).netloc, reference
        response = await server.client.get(url)
        assert response.status_code == 200, reference
        assert response.content, reference
    script = await server.client.get("/api/docs/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 500_000  # Swagger UI itself, not a stub
    assert (
        (await server.client.get("/api/docs/swagger-ui.css"))
        .headers["content-type"]
        .startswith("text/css")
    )
    start = await server.client.get("/api/docs/veza-docs.js")
    assert "validatorUrl: null" in start.text  # no badge fetched from another host


async def test_docs_assets_are_cached_and_only_the_packaged_files_are_served(
    server: RunningServer,
) -> None:
    first = await server.client.get("/api/docs/swagger-ui.css")
    etag = first.headers["etag"]
    again = await server.client.get("/api/docs/swagger-ui.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    for name in ("index.html", "swagger-initializer.js", "..%2f..%2fpyproject.toml", "x.js"):
        assert (await server.client.get(f"/api/docs/{name}")).status_code == 404, name
