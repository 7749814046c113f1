"""Telling "PostgreSQL is unreachable" apart from a bug.

A request that cannot reach the database answers 503 ``database_unavailable`` with
``Retry-After`` (``shared.http.problems``), not 500: the client should retry, and the
operator's alert is the readiness probe, not a stack trace per request. The errors
of an outage come in three shapes, all recognised here:

- connecting fails: ``ConnectionRefusedError`` / ``OSError`` / ``TimeoutError`` from
  the socket (raised through asyncpg, unwrapped by SQLAlchemy), or PostgreSQL refusing
  (``the database system is starting up / shutting down``, too many connections);
- a pooled connection dies under a statement: SQLAlchemy's ``DBAPIError`` with
  ``connection_invalidated``, asyncpg's ``ConnectionDoesNotExistError`` or
  ``AdminShutdownError`` on the driver pool;
- no pooled connection frees up in time: SQLAlchemy's pool ``TimeoutError``.
"""

from __future__ import annotations

from types import TracebackType

import asyncpg
from sqlalchemy import exc as sa_exc

_REFUSALS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx, ConnectionDoesNotExistError
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections
    sa_exc.TimeoutError,  # the pool had no connection to give in time
)
_SOCKET: tuple[type[BaseException], ...] = (OSError, TimeoutError)
_DRIVERS = ("asyncpg", "sqlalchemy")


def _through_driver(tb: TracebackType | None) -> bool:
    """The traceback passes through the database driver or SQLAlchemy (a socket error
    raised there is the database's, not a webhook's or Redis')."""
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


def is_database_outage(exc: BaseException) -> bool:
    """``exc`` (or what it wraps) says the database cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _REFUSALS):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        if isinstance(current, _SOCKET) and _through_driver(current.__traceback__):
            return True
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        )
    return False
