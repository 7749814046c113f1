"""Route guards: who may call a handler, by role (people) and scope (API keys).

Usage: ``@post(..., guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)])`` or
``guards=[require_scope("leads:write")]``; several checks on a hot route as one guard,
``guards=[all_of(require_roles(...), require_scope("leads:write"))]`` (Litestar copies
the route handler for every guard it calls, a cost per guard per request). A guard only
answers "may this kind of caller use this route"; whether the row is theirs is the
tenant scope's job (RLS) and the service's. What every route checks before its guards
runs in middleware: the tenant's standing (:mod:`shared.auth.standing`) and the
per-API-key rate limit (:mod:`shared.http.ratelimit`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from shared.auth.middleware import current_ctx
from shared.context import PrincipalKind, Role
from shared.errors import Forbidden, Unauthorized

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]
"""Guards are coroutines: Litestar runs a plain function guard in a worker thread."""


def require_roles(*roles: Role, allow_api_keys: bool = False) -> Guard:
    """People with one of ``roles``; API keys only when ``allow_api_keys`` (then by scope)."""
    allowed = frozenset(roles)

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        ctx = current_ctx(connection)
        if ctx is None:
            raise Unauthorized()
        if ctx.kind is PrincipalKind.API_KEY:
            if not allow_api_keys:
                raise Forbidden("API keys cannot use this route")
            return
        if ctx.role not in allowed:
            raise Forbidden("your role cannot use this route")

    return guard


def require_scope(*scopes: str) -> Guard:
    """API keys need one of ``scopes`` (``require_scope("leads:read", "leads:write")``: a key
    that writes leads may read them); people pass (their role guard decides)."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        ctx = current_ctx(connection)
        if ctx is None:
            raise Unauthorized()
        if not any(ctx.has_scope(scope) for scope in scopes):
            wanted = " or ".join(repr(scope) for scope in scopes)
            raise Forbidden(f"this API key lacks the scope {wanted}")

    return guard


def all_of(*guards: Guard) -> Guard:
    """One guard running ``guards`` in order (the first refusal wins)."""

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        for check in guards:
            await check(connection, handler)

    return guard
