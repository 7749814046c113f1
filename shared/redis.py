"""One async Redis client per event loop and URL (a client must not cross loops), and
:class:`Fallback`, the way a request path keeps working while Redis is down."""

from __future__ import annotations

import asyncio
import time
import weakref

import structlog
from prometheus_client import Counter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

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


# --- requests that do without Redis -----------------------------------------------------

REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError)
"""What a Redis command raises when the server is down, unreachable or too slow."""

WITHOUT_REDIS = Counter(
    "kolokol_redis_fallback_total",
    "Requests served without Redis (it failed or is paused after a failure), by use",
    ["use"],
)

log = structlog.get_logger("kolokol.redis")


class Fallback:
    """One Redis use a request can do without (the rate limiter's bucket, say).

    After a failure the use skips Redis for :attr:`pause` seconds, so a Redis that is
    down costs one failed command per pause, not one connect timeout per request. The
    outage is logged once when it starts and once when Redis answers again; each
    request served without Redis counts in ``kolokol_redis_fallback_total{use}``.
    """

    def __init__(self, use: str, *, pause: float = 2.0) -> None:
        self.use = use
        self.pause = pause
        self._until = 0.0
        self._down = False

    def paused(self) -> bool:
        """Skip Redis now (a failure was seen less than :attr:`pause` seconds ago)."""
        if time.monotonic() < self._until:
            WITHOUT_REDIS.labels(self.use).inc()
            return True
        return False

    def failed(self, exc: BaseException) -> None:
        """Redis failed this use: serve without it and pause it."""
        WITHOUT_REDIS.labels(self.use).inc()
        if not self._down:
            log.warning(
                "redis.unavailable", use=self.use, error=type(exc).__name__, pause=self.pause
            )
        self._down = True
        self._until = time.monotonic() + self.pause

    def answered(self) -> None:
        """Redis served this use again."""
        if self._down:
            self._down = False
            log.info("redis.available", use=self.use)
