"""What a process knows about ready work: the queue heads, and a wake-up signal.

- :class:`Heads` caches the heads of the ready queues (see
  :func:`~services.assignment.tasks.repository.ready_heads`) and the active
  projects; it is refreshed when older than :data:`HEADS_TTL` or marked dirty (a
  task was created in this process, or a wake-up arrived from another). A refresh
  runs single-flight; claims meanwhile use the previous heads, and a stale head
  only costs one empty lease attempt.
- :class:`ReadySignal`: long-polling operators wait on it with no connection of their
  own. It is woken in this process by :func:`announce` (after the commit that made
  work ready) and from other processes through ONE Redis pub/sub subscription per
  process (per event loop) on :func:`channel`. Redis, not ``NOTIFY``: a notification
  is local to the database node that sends it, so under a distributed database (a
  statement delegated to a worker) listeners on the coordinator would never hear it.

A wake-up only makes work visible sooner; it never carries work. With Redis down (or
a message lost) waiters still wake every :data:`FALLBACK_POLL` s and heads older than
:data:`HEADS_TTL` s are re-read, so new work is seen within
``FALLBACK_POLL + HEADS_TTL`` (2 s) at worst — and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.assignment.tasks import repository, routing
from shared.db.session import STAFF, session_scope
from shared.redis import get_redis

log = logging.getLogger(__name__)

HEADS_TTL = 1.0
FALLBACK_POLL = 1.0


@dataclass(frozen=True, slots=True)
class Head:
    candidate: routing.Candidate
    tier: int
    skills: frozenset[str]


@dataclass(frozen=True, slots=True)
class TenantHeads:
    """One tenant's heads, and how long its most urgent one has waited (the tie-break
    between tenants at the same fairness pass)."""

    tenant_id: uuid.UUID
    waited: datetime
    heads: tuple[Head, ...]


@dataclass
class Heads:
    heads: list[Head] = field(default_factory=list)
    refreshed_at: float = 0.0
    dirty: bool = True
    fairness: routing.FairnessState = field(default_factory=routing.FairnessState)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refresher: asyncio.Task[None] | None = None
    """The background refresh (kept referenced so it is not collected mid-flight)."""
    by_tenant: list[TenantHeads] = field(default_factory=list)
    """:attr:`heads` grouped by tenant, by (waited, tenant id): built once per refresh, so
    a claim's fairness step costs a pass over the tenants, not over every head."""
    skills: frozenset[str] = frozenset()
    """Every skill some head requires (an operator with all of them may take any head)."""

    def _index(self) -> None:
        groups: dict[uuid.UUID, list[Head]] = {}
        waited: dict[uuid.UUID, datetime] = {}
        for h in self.heads:
            c = h.candidate
            at = c.received_at if c.kind == routing.TaskKind.FIRST_CALL else c.due_at
            groups.setdefault(c.tenant_id, []).append(h)
            if c.tenant_id not in waited or at < waited[c.tenant_id]:
                waited[c.tenant_id] = at
        self.by_tenant = sorted(
            (TenantHeads(t, waited[t], tuple(hs)) for t, hs in groups.items()),
            key=lambda g: (g.waited, g.tenant_id),
        )
        self.skills = frozenset(s for h in self.heads for s in h.skills)

    def stale(self) -> bool:
        return self.dirty or time.monotonic() - self.refreshed_at > HEADS_TTL

    async def current(self, *, force: bool = False) -> list[Head]:
        """The heads, refreshed first when new work was signalled (``dirty``), when there
        are none, or when ``force``; single-flight. Heads that are merely older than
        :data:`HEADS_TTL` are answered as they are while a refresh runs in the
        background: the claim that noticed must not wait ~tens of ms for the refresh
        query on a large queue, and a stale head only costs one empty lease attempt."""
        if not (force or self.stale()):
            return self.heads
        if self.heads and not force:
            if self._lock.locked():
                return self.heads
            if not self.dirty:
                self._refresher = asyncio.get_running_loop().create_task(self._refresh_behind())
                return self.heads
        await self._refresh(force=force)
        return self.heads

    async def _refresh_behind(self) -> None:
        """A background refresh: a failure is logged, and the next claim tries again."""
        try:
            await self._refresh()
        except Exception:
            log.exception("assignment: refreshing the queue heads failed")

    async def _refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if force or self.stale():
                self.dirty = False
                async with session_scope(STAFF) as session:
                    rows = await repository.ready_heads(session)
                self.heads = [_head(row) for row in rows]
                self._index()
                self.refreshed_at = time.monotonic()

    def drop(self, head: Head) -> None:
        """Forget a head whose queue had nothing for us (until the next refresh)."""
        self.heads = [h for h in self.heads if h is not head]
        self._index()


def _head(row: Any) -> Head:
    return Head(
        candidate=routing.Candidate(
            task_id=row.task_id,
            tenant_id=row.tenant_id,
            project_id=row.project_id,
            kind=row.kind,
            due_at=row.due_at,
            received_at=row.received_at,
            priority_weight=row.priority,
            speed_to_lead_seconds=row.speed_to_lead_seconds,
        ),
        tier=row.tier,
        skills=frozenset(row.required_skills or ()),
    )


RESUBSCRIBE = 5.0
"""Seconds before subscribing again after Redis failed (meanwhile: the fallback poll)."""
PUBLISH_PAUSE = 5.0
"""Seconds publishing is skipped after a failed publish (no pile of tasks each waiting
for a connect timeout while Redis is down)."""

CLOSE_GRACE = 3.0
"""Seconds a closing process gives its last wake-ups (a lost one costs a refresh)."""


def _client() -> Redis:
    """The Redis client wake-ups go through (tests point it elsewhere)."""
    return get_redis()


def channel(client: Redis) -> str:
    """The pub/sub channel, named with the Redis database of ``client``: channels are
    global to a Redis server while databases are not, and deployments (or test runs)
    sharing a server on different databases must not wake each other."""
    return f"kolokol.assignment.ready.{client.connection_pool.connection_kwargs.get('db', 0)}"


class ReadySignal:
    """Wakes waiters when a wake-up arrives on the Redis channel (or on :meth:`wake`)."""

    def __init__(self, heads: Heads) -> None:
        self._heads = heads
        self._event = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()
        self._publish_after = 0.0

    def wake(self, tenant: str | None = None) -> None:
        self._heads.dirty = True
        event, self._event = self._event, asyncio.Event()
        event.set()

    def listen(self) -> None:
        """Subscribe in the background if not subscribed (failures: poll instead)."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._subscribed(), name="assignment.ready_listener"
            )

    async def _subscribed(self) -> None:
        """Hold the subscription, waking on each message; on a Redis failure wait
        :data:`RESUBSCRIBE` s and subscribe again."""
        while True:
            client = _client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel(client))
                self.wake()  # anything made ready before we subscribed
                while True:
                    if await pubsub.get_message(timeout=FALLBACK_POLL) is not None:
                        self.wake()
            except (RedisError, OSError) as exc:
                log.warning(
                    "assignment: ready subscription failed (%s); polling", type(exc).__name__
                )
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(RESUBSCRIBE)

    def publish(self, tenant_ids: Iterable[uuid.UUID]) -> None:
        """Tell other processes (in the background, never failing the caller)."""
        if time.monotonic() < self._publish_after:
            return
        task = asyncio.get_running_loop().create_task(self._publish(" ".join(map(str, tenant_ids))))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, payload: str) -> None:
        client = _client()
        try:
            await client.publish(channel(client), payload)
        except (RedisError, OSError) as exc:
            if time.monotonic() >= self._publish_after:
                log.warning(
                    "assignment: ready wake-up not published (%s); other processes will "
                    "see the work at their next heads refresh",
                    type(exc).__name__,
                )
            self._publish_after = time.monotonic() + PUBLISH_PAUSE

    async def wait(self, seconds: float) -> None:
        """Until a wake-up or ``seconds`` (never more than the fallback poll)."""
        self.listen()
        event = self._event
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), min(seconds, FALLBACK_POLL))

    async def close(self) -> None:
        """Stop listening; wake-ups still being published get :data:`CLOSE_GRACE` s."""
        if self._publishing:
            await asyncio.wait(self._publishing, timeout=CLOSE_GRACE)
        listener, self._listener = self._listener, None
        tasks = [*self._publishing, *([listener] if listener is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class _LoopState:
    heads: Heads
    signal: ReadySignal


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        heads = Heads()
        state = _LoopState(heads=heads, signal=ReadySignal(heads))
        _states[loop] = state
    return state


def heads() -> Heads:
    return _state().heads


def signal() -> ReadySignal:
    return _state().signal


def announce(tenant_ids: Iterable[uuid.UUID]) -> None:
    """Work of these tenants was created or returned and committed: refresh this
    process's heads and wake its waiters now, and tell the other processes."""
    with contextlib.suppress(RuntimeError):  # no running loop: nobody waits here
        state = _state()
        state.signal.wake()
        state.signal.publish(tenant_ids)


def mark_dirty() -> None:
    """Refresh this process's heads and wake its waiters (nothing is published)."""
    with contextlib.suppress(RuntimeError):
        _state().signal.wake()


async def close() -> None:
    """Stop this loop's subscription and pending wake-ups (app shutdown)."""
    loop = asyncio.get_running_loop()
    state = _states.pop(loop, None)
    if state is not None:
        await state.signal.close()
