"""The one exception hierarchy of Veza and its mapping to the JSON error shape."""

from __future__ import annotations

import math
from typing import Any


class VezaError(Exception):
    """Base of every error a client may see; `status` and `code` make the response."""

    status = 500
    code = "internal_error"
    message = "internal error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers: dict[str, str] = {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error["request_id"] = request_id
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(VezaError):
    status, code, message = 400, "bad_request", "bad request"


class MalformedJSON(BadRequest):
    code, message = "malformed_json", "the request body is not valid JSON"


class Unauthenticated(VezaError):
    status, code, message = 401, "unauthenticated", "authentication required"


class InvalidCredentials(Unauthenticated):
    """Unknown login and wrong password alike: one status, code and message (no user probing)."""

    code, message = "invalid_credentials", "the login or the password is wrong"


class InvalidToken(Unauthenticated):
    code, message = "invalid_token", "the token is invalid, expired or revoked"


class Forbidden(VezaError):
    status, code, message = 403, "forbidden", "not allowed"


class NotAMember(Forbidden):
    """The conversation exists, but the caller is not one of its members."""

    code, message = "not_a_member", "you are not a member of this conversation"


class NotFound(VezaError):
    status, code, message = 404, "not_found", "not found"


class MethodNotAllowed(VezaError):
    status, code, message = 405, "method_not_allowed", "method not allowed"


class Conflict(VezaError):
    status, code, message = 409, "conflict", "conflict"


class PreconditionFailed(VezaError):
    """An `If-Match` named a version that is no longer the current one."""

    status, code, message = 412, "precondition_failed", "changed since the version you have"


class ResyncRequired(Conflict):
    """Too much was missed to replay: refetch the conversation's history instead (a socket
    answers this with a `resync` frame)."""

    code, message = "resync_required", "too many messages were missed: refetch the history"


class PayloadTooLarge(VezaError):
    status, code, message = 413, "payload_too_large", "the request body is too large"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        # The rest of the body is left unread, so the connection cannot carry another request.
        self.headers["Connection"] = "close"


class QuotaExceeded(PayloadTooLarge):
    code, message = "quota_exceeded", "this would take you over your storage quota"


class UnsupportedMediaType(VezaError):
    status, code, message = 415, "unsupported_media_type", "unsupported media type"


class UpgradeRequired(VezaError):
    """A plain HTTP request to a WebSocket endpoint."""

    status, code, message = 426, "upgrade_required", "this is a WebSocket endpoint"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.headers["Upgrade"] = "websocket"  # RFC 9110: a 426 names the protocol to use


class ValidationFailed(VezaError):
    status, code, message = 422, "validation_failed", "the request is not valid"


class RateLimited(VezaError):
    status, code, message = 429, "rate_limited", "too many requests"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))
        self.headers["Retry-After"] = str(self.retry_after)


class Unavailable(VezaError):
    status, code, message = 503, "unavailable", "service unavailable"


class InsufficientStorage(VezaError):
    status, code, message = 507, "insufficient_storage", "the server is short of disk space"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        # Refused before the body was read: the connection cannot carry another request.
        self.headers["Connection"] = "close"


class DatabaseError(Exception):
    """The database could not do what was asked (unreachable, corrupt, locked too long).
    Raised by the store; not a client's mistake, so not a VezaError."""


class IntegrityError(DatabaseError):
    """A uniqueness or foreign-key constraint refused the write."""
