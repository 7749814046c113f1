"""The relay: committed outbox rows → one dramatiq message per consumer service.

A pass over a schema takes no row locks, so it stays a plain read on every shard
once the database is distributed by tenant: it picks the oldest unpublished rows
across tenants (the partial index ``ix_<schema>_outbox_unpublished``), then, per
tenant, marks them published with a single-tenant conditional update
(``WHERE tenant_id = $1 AND id = ANY($2) AND published_at IS NULL RETURNING``) and
sends only the rows that update returned. Two relays racing over the same rows
therefore never both send one: the second update finds them published and returns
nothing. The mark and the sends share one transaction per tenant, which commits
after the broker took the messages; if Redis fails, the rows it did not take are
unmarked in that transaction (``attempts`` and ``last_error`` counted) and the pass
stops: the next pass retries. A row sent whose commit is lost (a crash in between)
is sent again; consumers' inboxes make that harmless (at least once).

Fast path: when a session that called ``publish()`` commits, :func:`wake` schedules
a relay of that schema on the running loop (coalesced: one relay task per loop).
The sweep :func:`run_relay` (every second) and a periodic job catch the rest.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from uuid import UUID

import dramatiq
from sqlalchemy import ARRAY, BindParameter, Uuid, any_, bindparam, func, select, text, update

from shared.db.ddl import SERVICE_SCHEMAS
from shared.db.session import STAFF, session_scope
from shared.messaging.broker import get_broker
from shared.messaging.events import CATALOGUE, actor_name
from shared.messaging.outbox import OUTBOX, envelope_from_row

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 1.0
DEFAULT_LIMIT = 500


def messages_for(row: Any) -> list[dramatiq.Message[Any]]:
    """The messages an outbox row becomes: one per consumer service."""
    spec = CATALOGUE.get(row.event_type)
    if spec is None:
        return []
    body = envelope_from_row(row).to_builtins()
    return [
        dramatiq.Message(
            queue_name=consumer,
            actor_name=actor_name(consumer, row.event_type),
            args=(body,),
            kwargs={},
            options={},
        )
        for consumer in spec.consumers
    ]


def _enqueue(broker: dramatiq.Broker, rows: Sequence[Any]) -> tuple[list[UUID], str | None]:
    """Send rows in order; stop at the first failure. Returns the sent ids and the error."""
    sent: list[UUID] = []
    for row in rows:
        try:
            for message in messages_for(row):
                broker.enqueue(message)
        except Exception as exc:
            return sent, f"{type(exc).__name__}: {exc}"[:1000]
        sent.append(row.id)
    return sent, None


_UUID_ARRAY: ARRAY[UUID] = ARRAY(Uuid())


def _uuids(ids: list[UUID]) -> BindParameter[Any]:
    """``ids`` as one array parameter (``= ANY($n)``): one statement text for any count."""
    return bindparam("ids", ids, type_=_UUID_ARRAY)


async def _candidates(schema: str, limit: int) -> dict[UUID, list[UUID]]:
    """The oldest unpublished rows of ``schema`` (no locks), their ids by tenant in order."""
    table = OUTBOX[schema]
    async with session_scope(STAFF) as session:
        rows = (
            await session.execute(
                select(table.c.tenant_id, table.c.id)
                .where(table.c.published_at.is_(None))
                .order_by(table.c.created_at, table.c.id)
                .limit(limit)
            )
        ).all()
    by_tenant: dict[UUID, list[UUID]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row.id)
    return by_tenant


async def _relay_tenant(
    schema: str, tenant_id: UUID, ids: list[UUID], broker: dramatiq.Broker
) -> tuple[int, str | None]:
    """Mark one tenant's candidates published (those still unpublished) and send them,
    in one transaction: (rows sent, the broker's error)."""
    table = OUTBOX[schema]
    async with session_scope(STAFF) as session:
        marked = await session.execute(
            update(table)
            .where(
                table.c.tenant_id == tenant_id,
                table.c.id == any_(_uuids(ids)),
                table.c.published_at.is_(None),
            )
            .values(published_at=func.now(), attempts=table.c.attempts + 1)
            .returning(*table.c)
        )
        rows = sorted(marked.all(), key=lambda row: (row.created_at, row.id))
        for row in rows:
            if row.event_type not in CATALOGUE:
                log.error("outbox %s holds unknown event type %r", schema, row.event_type)
        sent, error = await asyncio.to_thread(_enqueue, broker, rows)
        if error is not None:
            # The broker failed mid-batch: what it took stays published; the rest is
            # handed back to the next pass, its attempt and error counted.
            done = set(sent)
            unsent = [row.id for row in rows if row.id not in done]
            await session.execute(
                update(table)
                .where(table.c.tenant_id == tenant_id, table.c.id == any_(_uuids(unsent)))
                .values(published_at=None, last_error=error)
            )
    return len(sent), error


async def relay_schema(
    schema: str, limit: int = DEFAULT_LIMIT, *, broker: dramatiq.Broker | None = None
) -> tuple[int, bool]:
    """One pass over ``<schema>.outbox``: (rows published, whether the broker answered)."""
    broker = broker or get_broker()
    published = 0
    for tenant_id, ids in (await _candidates(schema, limit)).items():
        sent, error = await _relay_tenant(schema, tenant_id, ids, broker)
        published += sent
        if error is not None:
            log.warning(
                "relay of %s stopped: broker unavailable (%d rows left): %s",
                schema,
                len(ids) - sent,
                error,
            )
            return published, False
    return published, True


async def relay_once(
    limit: int = DEFAULT_LIMIT,
    *,
    broker: dramatiq.Broker | None = None,
    schemas: Iterable[str] | None = None,
) -> int:
    """One pass over every service's outbox (at most ``limit`` rows each).

    Returns the number of rows published; stops early when the broker is down.
    """
    total = 0
    for schema in schemas or SERVICE_SCHEMAS:
        published, ok = await relay_schema(schema, limit, broker=broker)
        total += published
        if not ok:
            break
    return total


async def drain(
    schemas: Iterable[str] | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    broker: dramatiq.Broker | None = None,
) -> int:
    """Relay until the outboxes are empty (or the broker fails)."""
    total = 0
    for schema in schemas or SERVICE_SCHEMAS:
        while True:
            published, ok = await relay_schema(schema, limit, broker=broker)
            total += published
            if not ok:
                return total
            if published < limit:
                break
    return total


async def run_relay(stop: asyncio.Event, *, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Sweep every outbox every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            await drain()
        except Exception:
            log.exception("relay sweep failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def outbox_lag_seconds() -> float:
    """Age in seconds of the oldest unpublished event across all outboxes (0 when none)."""
    union = " UNION ALL ".join(
        f"SELECT min(created_at) AS oldest FROM {schema}.outbox WHERE published_at IS NULL"  # noqa: S608
        for schema in SERVICE_SCHEMAS
    )
    async with session_scope(STAFF) as session:
        lag = await session.scalar(
            text(f"SELECT coalesce(extract(epoch FROM now() - min(oldest)), 0) FROM ({union}) o")  # noqa: S608
        )
    return float(lag or 0)


# --- the fast path -----------------------------------------------------------------


class _Waker:
    """One coalescing relay task per event loop."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while self.pending:
            schemas, self.pending = self.pending, set()
            try:
                await drain(sorted(schemas))
            except Exception:
                log.warning("fast-path relay failed; the sweep will retry", exc_info=True)


_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker] = weakref.WeakKeyDictionary()
_fast_path = True


def wake(schemas: Iterable[str]) -> None:
    """Relay these schemas' outboxes soon, on the running loop (no-op without one)."""
    if not _fast_path:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    waker = _wakers.get(loop)
    if waker is None:
        waker = _wakers[loop] = _Waker()
    waker.pending.update(schemas)
    if waker.task is None or waker.task.done():
        waker.task = loop.create_task(waker.run(), name="messaging.fast_relay")


def set_fast_path(enabled: bool) -> None:
    """Turn the after-commit relay on or off for this process (the sweep still runs)."""
    global _fast_path
    _fast_path = enabled


@contextmanager
def fast_path_disabled() -> Iterator[None]:
    """Within the block, commits do not wake the relay (tests of the sweep)."""
    previous = _fast_path
    set_fast_path(False)
    try:
        yield
    finally:
        set_fast_path(previous)


async def wait_fast_path() -> None:
    """Wait for the running loop's fast-path relay to finish (tests, shutdown)."""
    waker = _wakers.get(asyncio.get_running_loop())
    while waker is not None and waker.task is not None and not waker.task.done():
        await asyncio.shield(waker.task)
