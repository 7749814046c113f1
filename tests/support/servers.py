"""Find (or start) PostgreSQL and Redis for the suite, and give it its own database.

Order of preference: ``DATABASE_URL`` / ``REDIS_URL`` when set; the machine's servers
on their standard loopback ports when they answer; otherwise embedded servers under
``.kolokol/test`` (see :mod:`kolokol.embedded`), stopped when the run ends.
``KOLOKOL_TEST_EMBEDDED=1`` skips the first two and always uses embedded servers
(how a machine without PostgreSQL or Redis is tried on one that has them). The
suite always works in a fresh database named ``kolokol_test`` and a Redis db of its
own, flushed at start.
"""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

TEST_DB = os.environ.get("KOLOKOL_TEST_DB", "kolokol_test")
TEST_REDIS_DB = int(os.environ.get("KOLOKOL_TEST_REDIS_DB", "13"))
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
FORCE_EMBEDDED = os.environ.get("KOLOKOL_TEST_EMBEDDED", "").lower() in {"1", "true", "yes"}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _with_redis_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


async def _recreate_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _server_urls() -> tuple[str, str]:
    if FORCE_EMBEDDED:
        pg = rd = ""
    else:
        pg = os.environ.get("DATABASE_URL", "")
        rd = os.environ.get("REDIS_URL", "")
        if not pg and _answers("127.0.0.1", 5432):
            pg = LOCAL_PG
        if not rd and _answers("127.0.0.1", 6379):
            rd = LOCAL_REDIS
    if not pg or not rd:
        from kolokol.embedded import EmbeddedServers

        servers = EmbeddedServers.for_tests()
        urls = servers.start(postgres=not pg, redis=not rd)
        pg = pg or urls.database_url
        rd = rd or urls.redis_url
    return pg, rd


def prepare_test_environment() -> None:
    """Point the process at a fresh test database and Redis db, migrated to head."""
    if os.environ.get("KOLOKOL_ENV") == "test" and os.environ.get("KOLOKOL_TEST_READY"):
        return
    pg, rd = _server_urls()
    asyncio.run(_recreate_database(pg, TEST_DB))
    redis_url = _with_redis_db(rd, TEST_REDIS_DB)
    redis.Redis.from_url(redis_url).flushdb()
    os.environ.update(
        {
            "KOLOKOL_ENV": "test",
            "DATABASE_URL": _with_database(pg, TEST_DB),
            "REDIS_URL": redis_url,
            "KOLOKOL_WEBHOOK_ALLOW_LOOPBACK": "1",
            "KOLOKOL_LOG_JSON": "1",
            "KOLOKOL_TEST_READY": "1",
        }
    )
    from shared.config import get_settings
    from shared.db.migrate import upgrade_head

    get_settings.cache_clear()
    upgrade_head()
