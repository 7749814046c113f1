"""A tenant's standing: what its people and API keys may still do, checked on every route.

The standing is read from onboarding's ``tenants`` row (its status and its API-key
rate limit) under the staff scope — the same sanctioned read as API keys — and cached
in-process for ``settings.api_key_cache_seconds`` (3 s by default), so a suspension
bites everywhere within seconds. Resolving an API key reads its tenant's standing in
the same query and primes this cache (:func:`remember_standing`), so a key-authenticated
request costs no extra round trip; a person's token costs one read per tenant per
cache period.

The rule (:func:`check_standing`, called by the authentication middleware for every
authenticated request of a tenant's caller):

- ``active`` and ``pending``: nothing refused here (a pending tenant's limits are each
  service's own rules, e.g. intake's ``tenant_not_active``);
- ``suspended``: only routes declared ``open_while_suspended=True`` (reading its
  invoices and credit notes, paying them); every other one answers 403
  ``tenant_suspended``;
- ``closed``: everything answers 403 ``tenant_closed``.

Staff (no tenant) are never limited by a tenant's standing. A tenant id without a row
(a token for a tenant that does not exist) is not refused here: nothing is readable
under that tenant's scope anyway.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from litestar.connection import ASGIConnection
from sqlalchemy import text

from shared.config import Settings, get_settings
from shared.context import Ctx
from shared.db.session import STAFF, session_scope
from shared.errors import Forbidden

OPEN_WHILE_SUSPENDED = "open_while_suspended"
"""Handler option (``@get(..., open_while_suspended=True)``): a suspended tenant may call it."""


class TenantSuspended(Forbidden):
    code = "tenant_suspended"
    title = "The account is suspended"


class TenantClosed(Forbidden):
    code = "tenant_closed"
    title = "The account is closed"


@dataclass(frozen=True, slots=True)
class Standing:
    status: str
    rate_per_second: int | None
    """The tenant's API-key rate (requests/s); ``None``: the platform default."""
    rate_burst: int | None


_cache: dict[uuid.UUID, tuple[float, Standing | None]] = {}

_LOOKUP = text("select status, rate_per_second, rate_burst from onboarding.tenants where id = :id")


def remember_standing(
    tenant_id: uuid.UUID, standing: Standing | None, *, settings: Settings | None = None
) -> None:
    """Cache ``standing`` (the API-key lookup, which read it in its own query)."""
    seconds = (settings or get_settings()).api_key_cache_seconds
    _cache[tenant_id] = (time.monotonic() + seconds, standing)


def forget_standing(tenant_id: uuid.UUID | None = None) -> None:
    """Drop the cached standing of one tenant (after its status changed), or of all."""
    if tenant_id is None:
        _cache.clear()
    else:
        _cache.pop(tenant_id, None)


def cached_standing(tenant_id: uuid.UUID) -> Standing | None:
    """The cached standing, fresh or not (the rate limiter's read: no I/O)."""
    cached = _cache.get(tenant_id)
    return cached[1] if cached is not None else None


async def tenant_standing(tenant_id: uuid.UUID) -> Standing | None:
    """The tenant's standing (cached), or ``None`` for a tenant that does not exist."""
    cached = _cache.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    async with session_scope(STAFF) as session:
        row = (await session.execute(_LOOKUP, {"id": tenant_id})).one_or_none()
    standing = None if row is None else Standing(row.status, row.rate_per_second, row.rate_burst)
    remember_standing(tenant_id, standing)
    return standing


async def check_standing(connection: ASGIConnection, ctx: Ctx) -> None:
    """Refuse a suspended tenant's caller outside the routes open to it, and a closed
    tenant's caller everywhere (403 problems ``tenant_suspended`` / ``tenant_closed``)."""
    if ctx.tenant_id is None:
        return
    standing = await tenant_standing(ctx.tenant_id)
    if standing is None or standing.status not in ("suspended", "closed"):
        return
    if standing.status == "closed":
        raise TenantClosed("the account is closed: its data can no longer be used")
    handler = connection.scope.get("route_handler")
    if handler is not None and handler.opt.get(OPEN_WHILE_SUSPENDED):
        return
    raise TenantSuspended(
        "the account is suspended: only reading and paying its invoices is allowed"
        " until it is resumed"
    )
