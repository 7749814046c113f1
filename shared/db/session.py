"""Engines and sessions, every transaction bound to a tenant or to the staff scope.

Row-level security reads two transaction-local settings: ``app.tenant_id`` (a
client's requests) and ``app.scope = 'staff'`` (staff, workers, the scheduler).
A session carries its scope in ``session.info`` and an ``after_begin`` hook sets
them at the start of *every* transaction it opens, with ``set_config(..., true)``
so they vanish at commit or rollback: a pooled connection never carries one
request's tenant into the next, and a session with no scope sees no tenant rows.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.context import Ctx


@dataclass(frozen=True, slots=True)
class TenantScope:
    tenant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class StaffScope:
    pass


Scope = TenantScope | StaffScope | None
STAFF = StaffScope()

_SET_SCOPE = text(
    "select set_config('app.tenant_id', :tenant_id, true), set_config('app.scope', :scope, true)"
)


def scope_for(ctx: Ctx | None) -> Scope:
    """Staff and the system see across tenants; a client sees its own tenant; no one, nothing."""
    if ctx is None:
        return None
    if ctx.is_staff:
        return STAFF
    if ctx.tenant_id is not None:
        return TenantScope(ctx.tenant_id)
    return None


def _scope_params(scope: Scope) -> dict[str, str]:
    if isinstance(scope, TenantScope):
        return {"tenant_id": str(scope.tenant_id), "scope": "tenant"}
    if isinstance(scope, StaffScope):
        return {"tenant_id": "", "scope": "staff"}
    return {"tenant_id": "", "scope": ""}


@event.listens_for(Session, "after_begin")
def _apply_scope(session: Session, transaction: Any, connection: Any) -> None:
    if "scope" in session.info:
        connection.execute(_SET_SCOPE, _scope_params(session.info["scope"]))


# An asyncpg connection belongs to the event loop that opened it, and one process may
# run several loops (the dev runner's server and worker, the test client): so pools
# are kept per loop, and a loop that ends takes its pools with it.
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncEngine]] = (
    weakref.WeakKeyDictionary()
)


def _loop_engines() -> dict[str, AsyncEngine]:
    return _engines.setdefault(asyncio.get_running_loop(), {})


def get_engine(settings: Settings | None = None, *, owner: bool = False) -> AsyncEngine:
    """The running loop's app-role engine (``owner=False``) or owner engine (set-up only)."""
    settings = settings or get_settings()
    url = settings.sqlalchemy_owner_url if owner else settings.sqlalchemy_app_url
    engines = _loop_engines()
    engine = engines.get(url)
    if engine is None:
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            # No overflow: connections opened and closed under bursts cost a login and
            # re-preparing every statement each; a request waits for a pooled one instead.
            max_overflow=0,
            # No pre-ping: it costs a round trip per checkout on the hot path; a dead
            # connection fails its transaction once and is replaced by the pool.
            pool_pre_ping=False,
            pool_recycle=1800,
            # Bound parameters are leads' phones and names: an error message must not
            # carry them into a log line (shared/logging.py scrubs what the driver adds).
            hide_parameters=True,
            connect_args={"server_settings": {"application_name": "kolokol"}},
        )
        engines[url] = engine
    return engine


async def dispose_engines() -> None:
    """Close the running loop's pools (process exit, a worker thread stopping, tests)."""
    loop = asyncio.get_running_loop()
    for engine in list(_loop_engines().values()):
        await engine.dispose()
    _engines.pop(loop, None)
    for pool in list(_driver_pools.pop(loop, {}).values()):
        await (await pool).close()


# The hot paths' own asyncpg pools, per loop like the engines. Not the engine's pool:
# checking a connection out of SQLAlchemy and back costs ~130 µs of greenlet and event
# work, a tenth of a single-lead request.
_driver_pools: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Task[asyncpg.Pool]]
] = weakref.WeakKeyDictionary()


async def _keep_session_state(_: asyncpg.Connection) -> None:
    """No reset query on release: a driver connection only runs single statements
    outside transactions that leave no session state (a function's own ``SET`` reverts
    when it returns), so asyncpg's ``RESET ALL``/``UNLISTEN`` round trip buys nothing."""


async def _driver_pool(settings: Settings) -> asyncpg.Pool:
    pools = _driver_pools.setdefault(asyncio.get_running_loop(), {})
    dsn = settings.app_database_url
    task = pools.get(dsn)
    if task is None:  # a task, so concurrent first callers share one pool
        task = pools[dsn] = asyncio.ensure_future(
            asyncpg.create_pool(
                dsn,
                min_size=0,
                max_size=settings.db_pool_size,
                reset=_keep_session_state,
                server_settings={"application_name": "kolokol"},
            )
        )
    return await task


@asynccontextmanager
async def driver_connection(settings: Settings | None = None) -> AsyncIterator[Any]:
    """A pooled app-role asyncpg connection, for a hot path's one statement outside any
    transaction (it commits by itself): no BEGIN, ``set_config`` or COMMIT round trips
    and no ORM work. The statement must apply the tenant rule itself (the scope is not
    set): in practice a SQL function taking the tenant id, as ``intake.insert_leads``.
    Leave no session state behind (see :func:`_keep_session_state`)."""
    pool = await _driver_pool(settings or get_settings())
    async with pool.acquire() as conn:
        yield conn


def make_session(scope: Scope, *, engine: AsyncEngine | None = None) -> AsyncSession:
    """A session whose every transaction runs under ``scope``."""
    session = AsyncSession(engine or get_engine(), expire_on_commit=False)
    session.info["scope"] = scope
    return session


@asynccontextmanager
async def session_scope(
    scope: Scope, *, engine: AsyncEngine | None = None
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits once on success, rolls back on any exception."""
    session = make_session(scope, engine=engine)
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
