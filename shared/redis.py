"""One async Redis client per event loop and URL (a client must not cross loops)."""

from __future__ import annotations

import asyncio
import weakref

from redis.asyncio import BlockingConnectionPool, Redis

from shared.config import Settings, get_settings

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Redis]] = (
    weakref.WeakKeyDictionary()
)


def get_redis(settings: Settings | None = None, *, url: str | None = None) -> Redis:
    """The client for ``url`` (default ``settings.redis_url``) on the running loop."""
    url = url or (settings or get_settings()).redis_url
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(url)
    if client is None:
        # A blocking pool: past its size a command waits for a connection instead of
        # failing with "too many connections" (a 500 under a burst of requests).
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
        )
        client = Redis(connection_pool=pool)
        per_loop[url] = client
    return client


async def close_redis() -> None:
    """Close the clients of the running loop (app shutdown, end of a test)."""
    loop = asyncio.get_running_loop()
    for client in _clients.pop(loop, {}).values():
        await client.aclose(close_connection_pool=True)
