"""Engines and sessions, every transaction bound to a tenant or to the staff scope.

Row-level security reads two transaction-local settings: ``app.tenant_id`` (a
client's requests) and ``app.scope = 'staff'`` (staff, workers, the scheduler).
A session carries its scope in ``session.info`` and an ``after_begin`` hook sets
them at the start of *every* transaction it opens, with ``SET LOCAL`` so they vanish
at commit or rollback: a pooled connection never carries one request's tenant into
the next, and a session with no scope sees no tenant rows. ``SET LOCAL`` rather than
``set_config(..., true)``: Citus forwards the statement to its worker nodes (with
``citus.propagate_set_commands = 'local'``), never a function call.
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
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.util import await_

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


def scope_for(ctx: Ctx | None) -> Scope:
    """Staff and the system see across tenants; a client sees its own tenant; no one, nothing."""
    if ctx is None:
        return None
    if ctx.is_staff:
        return STAFF
    if ctx.tenant_id is not None:
        return TenantScope(ctx.tenant_id)
    return None


def set_local_scope(scope: Scope | uuid.UUID) -> str:
    """The two ``SET LOCAL`` statements that put ``scope`` (a tenant's id stands for its
    scope) into the current transaction, as one simple query.

    ``SET`` takes no bind parameters, so the values are written into the text: only
    values this function renders itself, never text from outside. A tenant id must be a
    ``uuid.UUID`` (anything else is refused) and is re-rendered from its integer, so
    even a subclass's ``__str__`` cannot reach the SQL; the scope words are fixed.
    """
    if isinstance(scope, uuid.UUID):
        scope = TenantScope(scope)
    if isinstance(scope, TenantScope):
        if not isinstance(scope.tenant_id, uuid.UUID):
            raise TypeError(f"a tenant scope needs a uuid.UUID, not {type(scope.tenant_id)!r}")
        tenant, word = str(uuid.UUID(int=scope.tenant_id.int)), "tenant"
    elif isinstance(scope, StaffScope):
        tenant, word = "", "staff"
    elif scope is None:
        tenant, word = "", ""
    else:
        raise TypeError(f"not a scope: {type(scope)!r}")
    return f"SET LOCAL app.tenant_id = '{tenant}'; SET LOCAL app.scope = '{word}'"


def apply_scope(connection: Connection, scope: Scope) -> None:
    """Set ``scope`` in ``connection``'s transaction in one round trip, as the prepared
    ``set_config`` select did: two ``SET LOCAL`` in one simple-protocol query.

    Sent on the asyncpg connection itself, because SQLAlchemy's asyncpg cursor prepares
    every statement (two statements cannot be prepared as one, and a text per tenant
    would fill the prepared-statement cache). The adapter begins its transaction
    lazily, on the first statement, so it is begun here first (its ``BEGIN`` round trip
    happened before as well), and then owns it: commit and rollback stay its own.

    A failure goes through SQLAlchemy's own handling of a statement's error, as if the
    query had been sent through it: a connection the server ended (PostgreSQL restarted)
    is invalidated together with every older one in the pool, and the error is
    SQLAlchemy's (``connection_invalidated``, a 503 ``database_unavailable``). Raised
    past that handling, the dead connection went back to the pool as if healthy, and a
    relay or worker, whose every transaction starts here, failed on it forever.
    """
    adapted = connection.connection.dbapi_connection
    if adapted is None:  # pragma: no cover - a connection in a transaction has one
        raise RuntimeError("no DBAPI connection under an open transaction")
    statement = set_local_scope(scope)
    try:
        if getattr(adapted, "_transaction", None) is None:
            await_(adapted._start_transaction())
        try:
            await_(adapted.driver_connection.execute(statement))
        except Exception as error:  # as the adapter's own statements raise it: a DBAPI error
            adapted._handle_exception(error)
    except Exception as error:
        connection._handle_dbapi_exception(error, statement, None, None, None)


@event.listens_for(Session, "after_begin")
def _apply_scope(session: Session, transaction: Any, connection: Connection) -> None:
    if "scope" in session.info:
        apply_scope(connection, session.info["scope"])


# An asyncpg connection belongs to the event loop that opened it, and one process may
# run several loops (the dev runner's server and worker, the test client): so pools
# are kept per loop, and a loop that ends takes its pools with it.
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncEngine]] = (
    weakref.WeakKeyDictionary()
)


def _loop_engines() -> dict[str, AsyncEngine]:
    return _engines.setdefault(asyncio.get_running_loop(), {})


CONNECT_TIMEOUT_SECONDS = 2.0
"""Opening a connection gives up after this: a database that does not answer (down,
unreachable) fails the request fast (a 503, see ``shared.db.outage``), not after
asyncpg's default of a minute."""
STATEMENT_TIMEOUT_SECONDS = 30.0
"""An app-role statement gives up after this (asyncpg's ``command_timeout``): a
connection whose server went silent mid-statement must not hold a request or an
actor forever. Not on the owner engine: migrations may run longer."""


def _connect_args(*, owner: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "server_settings": {"application_name": "kolokol"},
        "timeout": CONNECT_TIMEOUT_SECONDS,
    }
    if not owner:
        args["command_timeout"] = STATEMENT_TIMEOUT_SECONDS
    return args


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
            connect_args=_connect_args(owner=owner),
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
                **_connect_args(owner=False),
            )
        )
    return await task


@asynccontextmanager
async def driver_connection(settings: Settings | None = None) -> AsyncIterator[Any]:
    """A pooled app-role asyncpg connection, for a hot path's one statement outside any
    transaction (it commits by itself): no BEGIN, ``SET LOCAL`` or COMMIT round trips
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
