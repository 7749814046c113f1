"""The per-tenant claim with its tenants spread over several databases, standing in for
Citus workers: each tenant's ``claim_tenant`` goes to its own database (through the
engine's :class:`~services.assignment.tasks.placement.Databases`), the operators' state
write to the app's database. Fairness between tenants and single holding still hold.

Three extra databases are made for the module: one migrated by alembic, two copied
from it (``CREATE DATABASE … TEMPLATE``), all dropped at the end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy import text

from services.assignment.tasks import ready, repository
from services.assignment.tasks.service import TaskService
from shared.config import Settings
from shared.db.migrate import upgrade_head
from shared.db.session import STAFF, driver_connection, session_scope
from tests.assignment.conftest import World
from tests.support.servers import TEST_DB

WORKERS = 3
TENANTS_PER_WORKER = 2
OPERATORS = 30
ROUNDS = 3


def _on(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@dataclass
class Worker:
    name: str
    owner_url: str
    pool: asyncpg.Pool
    tenants: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    """(tenant id, project id)"""


@dataclass
class Spread:
    """Each tenant's statements to its worker's database; the operators' to the app's."""

    of: dict[uuid.UUID, Worker]

    def node(self, tenant_id: uuid.UUID) -> str:
        return self.of[tenant_id].name

    def tenant(self, tenant_id: uuid.UUID) -> AbstractAsyncContextManager[Any]:
        return self.of[tenant_id].pool.acquire()

    def staff(self) -> AbstractAsyncContextManager[Any]:
        return driver_connection()


@dataclass
class SpreadHeads(ready.Heads):
    """Queue heads read from every worker (the coordinator's multi-shard read)."""

    workers: list[Worker] = field(default_factory=list)

    async def _refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if force or self.stale():
                self.dirty = False
                rows: list[Any] = []
                for worker in self.workers:
                    async with worker.pool.acquire() as conn, conn.transaction():
                        await conn.execute("SET LOCAL app.scope = 'staff'")
                        found = await conn.fetch(str(repository._HEADS))
                        rows.extend(SimpleNamespace(**dict(r)) for r in found)
                self.heads = [ready._head(row) for row in rows]
                self._index()
                self.refreshed_at = asyncio.get_running_loop().time()


async def _admin(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(_on(settings.database_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(worker: Worker, tasks_per_tenant: int) -> None:
    conn = await asyncpg.connect(worker.owner_url)
    try:
        for tenant_id, project_id in worker.tenants:
            await conn.execute(
                "INSERT INTO assignment.projects (tenant_id, id, revision, name, status, "
                "priority, calling_window, retry, dispositions) "
                "VALUES ($1, $2, 1, 'Spread', 'active', 10, '{}', '{}', '[]')",
                tenant_id,
                project_id,
            )
            # the first worker's tenants wait longest: by urgency alone they take every pick
            start = datetime.now(UTC) - timedelta(hours=2 if worker.name.endswith("1") else 1)
            await conn.execute(
                """
                INSERT INTO assignment.tasks (tenant_id, id, project_id, lead_id, kind,
                    class_rank, status, zones, received_at, due_at, next_allowed_at,
                    window_closes_at)
                SELECT $1, gen_random_uuid(), $2, gen_random_uuid(), 'first_call', 1,
                       'queued', ARRAY['Europe/Moscow'], at, at, at, now() + interval '1 day'
                  FROM generate_series(1, $3) g,
                       LATERAL (SELECT $4::timestamptz + make_interval(secs => g)) AS t(at)
                """,
                tenant_id,
                project_id,
                tasks_per_tenant,
                start,
            )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def workers(settings: Settings) -> AsyncIterator[list[Worker]]:
    names = [f"{TEST_DB}_w{i}" for i in range(1, WORKERS + 1)]
    for name in names:
        await _admin(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(settings, f'CREATE DATABASE "{names[0]}"')
    await asyncio.to_thread(upgrade_head, _on(settings.sqlalchemy_owner_url, names[0]))
    for name in names[1:]:
        await _admin(settings, f'CREATE DATABASE "{name}" TEMPLATE "{names[0]}"')
    made: list[Worker] = []
    try:
        for name in names:
            pool = await asyncpg.create_pool(
                _on(settings.app_database_url, name), min_size=0, max_size=8
            )
            made.append(Worker(name, _on(settings.database_url, name), pool))
        yield made
    finally:
        for worker in made:
            await worker.pool.close()
        # at once: each drop waits for a checkpoint, and concurrent requests share one
        await asyncio.gather(
            *(_admin(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') for name in names)
        )


async def _leases(workers: list[Worker]) -> list[Any]:
    rows: list[Any] = []
    for worker in workers:
        conn = await asyncpg.connect(worker.owner_url)
        try:
            rows.extend(
                await conn.fetch(
                    "SELECT t.tenant_id, t.id, t.leased_to, t.status, "
                    "(SELECT count(*) FROM assignment.assignments a WHERE a.tenant_id = "
                    "t.tenant_id AND a.task_id = t.id) AS assigned FROM assignment.tasks t"
                )
            )
        finally:
            await conn.close()
    return rows


async def test_claims_over_tenants_in_separate_databases_stay_fair_and_single(
    workers: list[Worker],
) -> None:
    of: dict[uuid.UUID, Worker] = {}
    for worker in workers:
        for _ in range(TENANTS_PER_WORKER):
            tenant = (uuid.uuid4(), uuid.uuid4())
            worker.tenants.append(tenant)
            of[tenant[0]] = worker
    tenants = len(of)
    await asyncio.gather(*(_seed(w, OPERATORS * ROUNDS // tenants + 2) for w in workers))
    world = World()
    ops = [await world.operator(projects=[]) for _ in range(OPERATORS)]
    heads = SpreadHeads(workers=workers)
    svc = TaskService()
    svc.claims = type(svc.claims)(svc.lease_seconds, databases=Spread(of), heads=lambda: heads)

    got: dict[uuid.UUID, list[uuid.UUID]] = {}
    for _ in range(ROUNDS):
        # every operator asks at once (asking again while holding reads the task by the
        # session's path, on the app's database: not what this test spreads)
        leased = await asyncio.gather(*(svc.claims.claim_once(op) for op in ops))
        assert all(a is not None for a in leased)
        per_tenant = Counter(a.tenant_id for a in leased if a is not None)
        assert set(per_tenant) == set(of)
        assert max(per_tenant.values()) - min(per_tenant.values()) <= 1, per_tenant
        for op, lease in zip(ops, leased, strict=True):
            assert lease is not None
            got.setdefault(op, []).append(lease.id)
        # the operators finish out of band: available again for the next round
        async with session_scope(STAFF) as session:
            await session.execute(
                text(
                    "UPDATE assignment.operators SET state = 'available' "
                    "WHERE id = ANY(:ops) RETURNING id"
                ),
                {"ops": ops},
            )

    rows = await _leases(workers)
    leased_rows = [r for r in rows if r["status"] == "leased"]
    assert len(leased_rows) == OPERATORS * ROUNDS
    assert all(r["assigned"] == 1 for r in leased_rows)  # no task leased twice
    holders = {r["id"]: r["leased_to"] for r in leased_rows}
    for op, task_ids in got.items():
        assert len(set(task_ids)) == ROUNDS  # a new task each round
        assert all(holders[t] == op for t in task_ids)
    async with session_scope(STAFF) as session:
        current = dict(
            (
                await session.execute(
                    text(
                        "SELECT id, current_task_id FROM assignment.operators WHERE id = ANY(:ops)"
                    ),
                    {"ops": ops},
                )
            ).all()
        )
    assert current == {op: task_ids[-1] for op, task_ids in got.items()}
