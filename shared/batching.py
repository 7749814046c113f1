"""Group commit for hot paths: callers' items gathered while the previous batch runs.

:class:`Combiner` hands the items submitted by concurrent callers to one ``run`` call,
one batch at a time, and answers each caller its own result. Nothing waits on a timer:
the first item of an idle combiner is run at once (a lone request pays no added
latency), and whatever arrives while a batch is in flight forms the next one. Under
load the batches grow by themselves, so a statement, a commit and a round trip are
shared by as many callers as were waiting for them — what PostgreSQL's group commit does
for WAL flushes.

A combiner belongs to one event loop (its futures do); keep one per loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Run = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]
"""Runs one batch; answers one result per item, in order (an exception: that caller's)."""


class Combiner(Generic[T, R]):
    """Batches of at most ``max_batch`` items, at most ``in_flight`` batches at once (two
    let the database work on one batch while this process prepares the next)."""

    def __init__(self, run: Run[T, R], *, max_batch: int = 64, in_flight: int = 1) -> None:
        self._run = run
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._drainers: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """Run ``item`` in the next batch; its result (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._drainers) < self._in_flight:
            drainer = loop.create_task(self._drain())
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._settle(batch)
        except BaseException:
            # cancelled (the loop is closing): nobody may be left to run these
            for _, future in self._waiting:
                future.cancel()
            self._waiting.clear()
            raise

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} answered {len(results)} results")
        except Exception as exc:  # every caller of the batch hears the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled: so are its callers
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away (cancelled)
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
