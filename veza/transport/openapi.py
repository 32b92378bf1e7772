"""The OpenAPI document served at /api/openapi.json: every operation with its request body, its
success responses and every error status it can answer with, in the one error shape
(`ErrorBody`).

quart-schema documents what its `validate_*` decorators declare. `VezaOpenAPI` adds the rest,
most of it derived so that a new route is documented without saying anything:

- from the guard (veza/transport/guard.py): a route that needs a token answers 401, one that
  needs a permission 403;
- from the route's schema: a JSON or form body answers 400 (malformed_json), 413 (over the body
  limit) and 422 (validation_failed); a query model 422; a path parameter 404 (nothing by that id);
- from `@errors(...)`: what only the route knows (409 for a username taken, 429 for a rate
  limit, 415 for an upload that is not multipart);
- `@responds(...)` documents a success that has no model: 204, or a file.

A body or a response that a route handles itself (a multipart upload, JSON bytes sent as they
are) is documented with quart-schema's `document_request` and `document_response`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from quart_schema import OpenAPIProvider, Tag
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
)
from werkzeug.routing import Rule

from veza.transport.guard import access_of

F = TypeVar("F", bound=Callable[..., Any])

_ERRORS = "__veza_errors__"
_RESPONSES = "__veza_responses__"
_ACCEPTS = "__veza_accepts__"

REF = "#/components/schemas/{model}"

TAGS = [
    Tag(name="accounts", description="Registration, sign-in, sessions, profiles, users"),
    Tag(name="tracks", description="Upload, browse, search, edit, play and remove tracks"),
    Tag(name="playlists", description="Playlists, their entries and collaborators, the queue"),
    Tag(name="albums", description="Albums and artists, derived from the tracks' tags"),
    Tag(name="chat", description="Conversations, members, messages and read receipts"),
    Tag(name="stats", description="Listens, plays, likes and top lists"),
    Tag(
        name="websocket",
        description="The live socket: chat, typing, receipts, presence and events",
    ),
    Tag(name="admin", description="The job queue and the scan of the music folders"),
    Tag(name="system", description="Liveness and readiness"),
]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable snake_case code, e.g. validation_failed")
    message: str = Field(description="for people; its wording may change")
    request_id: str = Field(description="the same as the X-Request-ID response header")
    details: dict[str, Any] | None = Field(default=None, description="more about some errors")


class ErrorBody(BaseModel):
    """Every error Veza answers with."""

    error: ErrorDetail


# What each status means wherever it is answered; `@errors(why=...)` says more for one route.
ERROR_MEANINGS: dict[int, str] = {
    400: "malformed_json: the body is not valid JSON; bad_request: it cannot be parsed at all",
    401: "unauthenticated, invalid_token: no valid access token (see WWW-Authenticate)",
    403: "forbidden: the caller's role lacks the permission this needs",
    404: "not_found: nothing by that id, or nothing the caller may see",
    409: "conflict: not possible in the current state",
    412: "precondition_failed: If-Match names a version that is no longer current; refetch",
    413: "payload_too_large: the body is over the limit; the connection is closed after this",
    415: "unsupported_media_type: the body is not of a type this accepts",
    416: "requested_range_not_satisfiable: the Range is outside the file",
    422: "validation_failed: a field, a query parameter or the cursor breaks a rule",
    426: "upgrade_required: a WebSocket endpoint asked without the upgrade (see Upgrade)",
    429: "rate_limited: too many attempts; Retry-After says how many seconds to wait",
    503: "unavailable: a dependency is down",
    507: "insufficient_storage: the server is short of disk space (min_free_disk_bytes)",
}

_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "Bearer challenge, when the access token is missing or invalid",
            "schema": {"type": "string"},
        }
    },
    426: {
        "Upgrade": {
            "description": "the protocol to ask for: websocket",
            "required": True,
            "schema": {"type": "string", "enum": ["websocket"]},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def errors(*statuses: int, why: Mapping[int, str] | None = None) -> Callable[[F], F]:
    """Document error statuses that only the route knows it answers with; `why` replaces the
    general meaning of a status for this route."""
    unknown = set(statuses) - set(ERROR_MEANINGS)
    if unknown:
        raise ValueError(f"no meaning for error status {sorted(unknown)}: add it to ERROR_MEANINGS")
    notes = dict(why or {})

    def declare(view: F) -> F:
        declared: dict[int, str | None] = dict(getattr(view, _ERRORS, {}))
        for status in statuses:
            declared[status] = notes.get(status, declared.get(status))
        setattr(view, _ERRORS, declared)
        return view

    return declare


def responds(
    status: int,
    description: str,
    *,
    media_types: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """Document a success response without a model: none (204), or a file of one of
    `media_types`, with the `headers` it carries (name: meaning)."""

    def declare(view: F) -> F:
        declared: dict[int, Any] = dict(getattr(view, _RESPONSES, {}))
        declared[status] = (description, tuple(media_types), dict(headers or {}))
        setattr(view, _RESPONSES, declared)
        return view

    return declare


def accepts(media_types: Iterable[str], description: str) -> Callable[[F], F]:
    """Document a request body that is a file sent as it is (an image), of one of
    `media_types`; such a route also answers 400 and 413 (as any body), 415 (another type) and
    422 (a file it cannot take)."""

    def declare(view: F) -> F:
        setattr(view, _ACCEPTS, (tuple(media_types), description))
        return view

    return declare


def error_statuses(rule: Rule, view: Callable[..., Any]) -> dict[int, str | None]:
    """Every error status of a route: derived from its guard and schema, plus those it declares;
    each with its route-specific meaning, or None for the general one."""
    found: dict[int, str | None] = {}
    access = access_of(view)
    if access is not None and not access.public:
        found[401] = None
        if access.permissions:
            found[403] = None
    if getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None:
        found.update({400: None, 413: None, 422: None})
    if getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None) is not None:
        found[422] = None
    if rule.arguments:
        found[404] = None
    if getattr(view, _ACCEPTS, None) is not None:
        found.update({400: None, 413: None, 415: None, 422: None})
    for status, why in getattr(view, _ERRORS, {}).items():
        found[status] = why if why is not None else found.get(status)
    return found


def _error_components() -> dict[str, Any]:
    """ErrorBody and the schemas it refers to, named in components/schemas."""
    schema = ErrorBody.model_json_schema(ref_template=REF, mode="serialization")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, ErrorBody.__name__: schema}


def error_response(status: int, why: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": why or ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }
    if status in _ERROR_HEADERS:
        response["headers"] = _ERROR_HEADERS[status]
    return response


class VezaOpenAPI(OpenAPIProvider):
    """quart-schema's document, completed with the error responses, the success responses and
    the request bodies that its decorators do not declare."""

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        responses, extra = self._responses(rule, view)
        components.update(extra)
        for path_item in paths.values():
            for operation in path_item.values():
                merged = {str(status): value for status, value in operation["responses"].items()}
                merged.update(responses)
                operation["responses"] = dict(sorted(merged.items()))
                accepted = getattr(view, _ACCEPTS, None)
                if accepted is not None:
                    binary = {"type": "string", "format": "binary"}
                    operation["requestBody"] = {
                        "description": accepted[1],
                        "content": {media: {"schema": binary} for media in accepted[0]},
                    }
                if "requestBody" in operation:
                    operation["requestBody"] = {**operation["requestBody"], "required": True}
        return paths, components

    def _responses(
        self, rule: Rule, view: Callable[..., Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        responses: dict[str, Any] = {}
        components: dict[str, Any] = {}
        for status, (description, media_types, headers) in getattr(view, _RESPONSES, {}).items():
            response: dict[str, Any] = {"description": description}
            if media_types:
                binary = {"type": "string", "format": "binary"}
                response["content"] = {media: {"schema": binary} for media in media_types}
            if headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in headers.items()
                }
            responses[str(status)] = response
        found = error_statuses(rule, view)
        for status, why in found.items():
            responses[str(status)] = error_response(status, why)
        if found:
            components.update(_error_components())
        return responses, components
