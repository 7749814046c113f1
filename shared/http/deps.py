"""Dependencies every controller can ask for by name: ``ctx`` and ``session``.

``session`` is one unit of work per request: its transactions run under the
caller's scope (tenant or staff, see :mod:`shared.db.session`); it commits once
after the handler returns and rolls back if the handler raises. Public routes that
need one name ``provide_public_session`` in their own ``dependencies``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from litestar.connection import ASGIConnection
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.middleware import current_ctx
from shared.context import Ctx
from shared.db.session import Scope, make_session, scope_for
from shared.errors import Unauthorized


async def provide_ctx(request: ASGIConnection) -> Ctx:
    ctx = current_ctx(request)
    if ctx is None:
        raise Unauthorized()
    return ctx


@asynccontextmanager
async def unit_of_work(scope: Scope) -> AsyncIterator[AsyncSession]:
    """A session under ``scope`` that commits when the block ends, rolls back if it raises.

    A session the block never used (a hot path that wrote through its own connection)
    is left alone: it holds no connection, and its commit and close would only cost the
    request their greenlet switches."""
    session = make_session(scope)
    try:
        yield session
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            await session.commit()
    except BaseException:
        if session.in_transaction():
            await session.rollback()
        raise
    finally:
        if session.in_transaction() or session.identity_map:
            await session.close()


async def provide_session(ctx: Ctx) -> AsyncGenerator[AsyncSession, None]:
    # Taking ``ctx`` orders the two: Litestar resolves dependencies of one level side by
    # side in an anyio task group, a cost on every request of the hot routes.
    async with unit_of_work(scope_for(ctx)) as session:
        yield session


async def provide_public_session() -> AsyncGenerator[AsyncSession, None]:
    """``session`` for routes without a caller (``exclude_from_auth``): no tenant scope, so
    row-level security shows it nothing tenant-owned."""
    async with unit_of_work(None) as session:
        yield session


DEPENDENCIES = {
    "ctx": Provide(provide_ctx),
    "session": Provide(provide_session),
}
