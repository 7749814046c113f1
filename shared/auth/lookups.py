"""A per-process cache of one lookup's answers, each trusted for a few seconds.

Credentials are checked on every request against rows another service owns (API keys,
people's token versions); asking the database each time would put a round trip on
every hot path, and trusting an answer forever would keep revoked credentials alive.
So an answer is kept for ``ttl`` seconds (a revocation takes effect everywhere within
that), a hit is a dict lookup, and when an entry expires under load the concurrent
requests for the same key wait for one query instead of each running their own.
``forget`` drops an entry at once, for the process that made the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MAX_ENTRIES = 100_000
"""Past this many entries the cache starts over (a bound, not an eviction policy)."""


class CachedLookup(Generic[K, V]):
    def __init__(self, load: Callable[[K], Awaitable[V]], ttl: Callable[[], float]) -> None:
        self._load = load
        self._ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}
        self._inflight: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K) -> V:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loop = asyncio.get_running_loop()
        task = self._inflight.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._fill(key))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    async def _fill(self, key: K) -> V:
        value = await self._load(key)
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl(), value)
        return value

    def _settled(self, key: K, done: asyncio.Task[V]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
