"""The guard every intake route shares: the per-API-key rate limit (and its 429)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from services.intake.mirrors.tenants import limit_for
from shared.auth.middleware import current_ctx
from shared.context import PrincipalKind
from shared.http.openapi import problem_spec
from shared.http.ratelimit import enforce_leased, remember

SCHEMA = "intake"


async def throttle(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The per-API-key token bucket, at the tenant's configured rate (429 when empty).

    The decision is remembered, so an admitted answer carries ``RateLimit-*`` headers
    too (the request middleware adds them)."""
    ctx = current_ctx(connection)
    if ctx is None or ctx.kind is not PrincipalKind.API_KEY or ctx.tenant_id is None:
        return
    decision = await enforce_leased(f"{SCHEMA}:{ctx.principal_id}", await limit_for(ctx.tenant_id))
    remember(connection.scope, decision)


RATE_LIMITED = problem_spec(
    "Too many requests for this API key (code `rate_limited`); `Retry-After` says how many"
    " seconds to wait, `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` describe"
    " the bucket (they are sent on admitted answers too)"
)
