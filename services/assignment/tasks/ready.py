"""What a process knows about ready work: the queue heads, and a wake-up signal.

- :class:`Heads` caches the heads of the ready queues (see
  :func:`~services.assignment.tasks.repository.ready_heads`) and the active
  projects; it is refreshed when older than :data:`HEADS_TTL` or marked dirty (a
  task was created in this process, or a NOTIFY arrived from another). A refresh
  runs single-flight; claims meanwhile use the previous heads, and a stale head
  only costs one empty lease attempt.
- :class:`ReadySignal` holds ONE asyncpg connection per process (per event loop) that
  LISTENs on ``assignment_ready``; long-polling operators wait on it with no database
  connection of their own, and fall back to polling every :data:`FALLBACK_POLL` s.
  The listening connection runs no other query (a connection sitting in a bare
  ``prepare()`` would hold notifications back until its next query).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from services.assignment.tasks import repository, routing
from shared.config import get_settings
from shared.db.session import STAFF, session_scope

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


class ReadySignal:
    """Wakes waiters when a NOTIFY on ``assignment_ready`` arrives (or on :meth:`wake`)."""

    def __init__(self, heads: Heads) -> None:
        self._heads = heads
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    def wake(self, tenant: str | None = None) -> None:
        self._heads.dirty = True
        event, self._event = self._event, asyncio.Event()
        event.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.wake(payload)

    async def listen(self) -> None:
        """Open the listening connection if it is not open (failures: poll instead)."""
        if self._conn is not None and not self._conn.is_closed():
            return
        if time.monotonic() < self._retry_at:
            return
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            try:
                conn = await asyncpg.connect(get_settings().app_database_url, timeout=5)
                await conn.add_listener(repository.CHANNEL, self._on_notify)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.warning("assignment: LISTEN failed (%s); polling instead", type(exc).__name__)
                self._retry_at = time.monotonic() + 5
                return
            self._conn = conn
            self.wake()  # anything that happened before we listened

    async def wait(self, seconds: float) -> None:
        """Until a wake-up or ``seconds`` (never more than the fallback poll)."""
        await self.listen()
        event = self._event
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), min(seconds, FALLBACK_POLL))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


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


def mark_dirty() -> None:
    """Work was created or returned in this process: refresh heads, wake waiters."""
    with contextlib.suppress(RuntimeError):
        _state().signal.wake()


async def close() -> None:
    """Close this loop's listening connection (app shutdown)."""
    loop = asyncio.get_running_loop()
    state = _states.pop(loop, None)
    if state is not None:
        await state.signal.close()
