"""The one route guard, deny by default: every /api/v1 route declares who may call it.

    @blueprint.post("/api/v1/tracks")
    @require(Permission.UPLOAD)
    async def upload() -> ...:
        user = current_principal().user

`@require()` with no permission admits any authenticated caller; `@public` admits anyone.
A route under /api/v1 with neither is refused (403) and logged, so a forgotten decorator
fails closed. Without a valid access token: 401; without the permission: 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from quart import current_app, g, request
from quart_schema import security_scheme
from quart_trio import QuartTrio

from veza.accounts import Permission, Principal
from veza.errors import Forbidden, Unauthenticated, VezaError
from veza.transport.context import services

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
GUARDED_PREFIX = "/api/v1/"
_ACCESS = "__veza_access__"
# Named in the OpenAPI document (see create_app) on every route that needs a token.
BEARER: dict[str, list[str]] = {"bearer": []}


@dataclass(frozen=True)
class Access:
    public: bool
    permissions: frozenset[Permission]


def require(*permissions: Permission) -> Callable[[F], F]:
    """Admit authenticated callers whose role holds every one of `permissions`."""

    def declare(view: F) -> F:
        setattr(view, _ACCESS, Access(public=False, permissions=frozenset(permissions)))
        documented: F = security_scheme([BEARER])(view)
        return documented

    return declare


def public(view: F) -> F:
    """Admit anyone, with or without a token."""
    setattr(view, _ACCESS, Access(public=True, permissions=frozenset()))
    return view


def access_of(view: Callable[..., Any]) -> Access | None:
    """The access rule a view declared (`@require`, `@public`), None when it declared none."""
    access: Access | None = getattr(view, _ACCESS, None)
    return access


def current_principal() -> Principal:
    """The caller of the current request, as authenticated by the guard."""
    principal: Principal | None = getattr(g, "veza_principal", None)
    if principal is None:
        raise Unauthenticated()
    return principal


def _challenge(error: VezaError) -> VezaError:
    error.headers["WWW-Authenticate"] = 'Bearer realm="veza"'
    return error


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _challenge(Unauthenticated("an access token is required (Authorization: Bearer)"))
    return token.strip()


async def _guard() -> None:
    rule = request.url_rule
    if rule is None or request.endpoint is None:
        return  # no route matched: 404 or 405 follows
    if request.method == "OPTIONS" and rule.provide_automatic_options:
        return
    view = current_app.view_functions.get(request.endpoint)
    access = None if view is None else access_of(view)
    if access is None:
        if rule.rule.startswith(GUARDED_PREFIX):
            log.error("route %s declares no access rule; refused", rule.rule)
            raise Forbidden("this route is not open to anyone")
        return
    if access.public:
        return
    try:
        principal = await services().accounts.authenticate(bearer_token())
    except Unauthenticated as error:
        raise _challenge(error) from None
    for permission in sorted(access.permissions):
        if not principal.can(permission):
            log.info(
                "access denied: user %s (%s) lacks %s for %s %s",
                principal.user.id,
                principal.role.value,
                permission,
                request.method,
                rule.rule,
            )
            raise Forbidden(f"the {principal.role.value} role lacks the {permission} permission")
    g.veza_principal = principal


def install_guard(app: QuartTrio) -> None:
    app.before_request(_guard)
