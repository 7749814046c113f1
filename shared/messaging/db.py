"""Database access for messaging code that may run on the dramatiq worker's event loop.

An asyncpg connection belongs to the event loop that opened it. A process that
serves HTTP and also runs a dramatiq worker (``kolokol dev``, the tests) has two
loops: the server's and the worker's :class:`dramatiq.asyncio.EventLoopThread`.
Code on the worker loop therefore gets an engine of its own; everywhere else the
shared :func:`shared.db.session.get_engine` pool is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dramatiq.asyncio import get_event_loop_thread
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.config import get_settings
from shared.db.session import Scope, session_scope

_worker_engines: dict[asyncio.AbstractEventLoop, AsyncEngine] = {}


def _on_worker_loop() -> asyncio.AbstractEventLoop | None:
    thread = get_event_loop_thread()
    if thread is None:
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if loop is thread.loop else None


def engine_for_loop() -> AsyncEngine | None:
    """The worker loop's own engine, or ``None`` (meaning the shared one) elsewhere."""
    loop = _on_worker_loop()
    if loop is None:
        return None
    engine = _worker_engines.get(loop)
    if engine is None:
        settings = get_settings()
        engine = create_async_engine(
            settings.sqlalchemy_app_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": "kolokol-worker"}},
        )
        _worker_engines[loop] = engine
    return engine


@asynccontextmanager
async def unit_of_work(scope: Scope) -> AsyncIterator[AsyncSession]:
    """:func:`session_scope` on the engine that belongs to the running loop."""
    async with session_scope(scope, engine=engine_for_loop()) as session:
        yield session


async def dispose_worker_engine() -> None:
    """Close the running loop's worker engine (called when a worker shuts down)."""
    loop = asyncio.get_running_loop()
    engine = _worker_engines.pop(loop, None)
    if engine is not None:
        await engine.dispose()
