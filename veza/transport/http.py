"""Request lifecycle for every route: request ids, body limits, access log, metrics, and the one
place where exceptions become the JSON error shape."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from quart import Response, g, jsonify, request
from quart_schema import RequestSchemaValidationError
from quart_trio import QuartTrio
from quart_trio.wrappers import TrioRequest
from werkzeug.exceptions import HTTPException

from veza import errors
from veza.transport.context import services

log = logging.getLogger("veza.http")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Werkzeug's own HTTP exceptions (routing, body limits, bad JSON) in our vocabulary.
_HTTP_EXCEPTIONS: dict[int, type[errors.VezaError]] = {
    400: errors.BadRequest,
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    422: errors.ValidationFailed,
    429: errors.RateLimited,
}


def request_id() -> str:
    return str(getattr(g, "request_id", "-"))


async def _begin() -> None:
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if _SANE_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
    g.started = time.perf_counter()
    services().metrics.in_flight.inc()


async def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    started = getattr(g, "started", None)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics = services().metrics
    metrics.in_flight.dec()
    metrics.observe(request.method, route, response.status_code, seconds)
    log.info(
        "%s %s %d %.1fms",
        request.method,
        request.path,
        response.status_code,
        seconds * 1000,
        extra={"request_id": request_id(), "status": response.status_code},
    )
    return response


def error_response(error: errors.VezaError) -> Response:
    response = jsonify(error.body(request_id()))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


async def _veza_error(error: errors.VezaError) -> Response:
    return error_response(error)


async def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    kind = _HTTP_EXCEPTIONS.get(status)
    if kind is None or kind is errors.RateLimited:
        generic = errors.VezaError(error.description or error.name)
        generic.status, generic.code = status, error.name.lower().replace(" ", "_")
        return error_response(generic)
    return error_response(kind())


async def _schema_error(error: RequestSchemaValidationError) -> Response:
    return error_response(errors.ValidationFailed(_summarise(error.validation_error)))


def _summarise(validation_error: Exception) -> str:
    issues = getattr(validation_error, "errors", None)
    if not callable(issues):
        return "the request body does not match the schema"
    parts = []
    for issue in issues()[:5]:
        where = ".".join(str(p) for p in issue.get("loc", ())) or "body"
        parts.append(f"{where}: {issue.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _unexpected(error: Exception) -> Response:
    log.error(
        "unhandled %s", type(error).__name__, exc_info=error, extra={"request_id": request_id()}
    )
    return error_response(errors.VezaError())


def _request_class(max_json_bytes: int) -> type[TrioRequest]:
    class VezaRequest(TrioRequest):
        """Bodies other than multipart uploads get the small JSON limit from the start, so an
        oversized one is refused (413) before it is buffered."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.mimetype != "multipart/form-data":
                self.max_content_length = max_json_bytes
                self.body = self.body_class(self.content_length, max_json_bytes)

        def on_json_loading_failed(self, error: Exception) -> Any:
            raise errors.MalformedJSON()

        async def get_json(
            self, force: bool = False, silent: bool = False, cache: bool = True
        ) -> Any:
            """Quart decodes the body as UTF-8 outside its own error handling, and the JSON
            parser gives up on deep nesting with RecursionError: both are the client's
            malformed body (400), never a 500."""
            try:
                return await super().get_json(force=force, silent=silent, cache=cache)
            except (ValueError, RecursionError):
                if silent:
                    return None
                raise errors.MalformedJSON() from None

    return VezaRequest


def install_http_edge(app: QuartTrio, max_json_bytes: int) -> None:
    app.request_class = _request_class(max_json_bytes)
    app.before_request(_begin)
    app.after_request(_finish)
    app.register_error_handler(errors.VezaError, _veza_error)
    app.register_error_handler(RequestSchemaValidationError, _schema_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
