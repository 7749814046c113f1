"""Dependencies every controller can ask for by name: ``ctx`` and ``session``.

``session`` is one unit of work per request: its transactions run under the
caller's scope (tenant or staff, see :mod:`shared.db.session`); it commits once
after the handler returns and rolls back if the handler raises.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.connection import ASGIConnection
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Ctx
from shared.db.session import make_session, scope_for
from shared.errors import Unauthorized


def current_ctx(connection: ASGIConnection) -> Ctx | None:
    """The authenticated caller, or ``None`` on a public route."""
    user = connection.scope.get("user")
    return user if isinstance(user, Ctx) else None


async def provide_ctx(request: ASGIConnection) -> Ctx:
    ctx = current_ctx(request)
    if ctx is None:
        raise Unauthorized()
    return ctx


async def provide_session(request: ASGIConnection) -> AsyncGenerator[AsyncSession, None]:
    session = make_session(scope_for(current_ctx(request)))
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


DEPENDENCIES = {
    "ctx": Provide(provide_ctx),
    "session": Provide(provide_session),
}
