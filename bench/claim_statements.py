"""The per-statement cost *s* of the claim path's throughput model (SCALE-OUT §5):
a round's claims for *k* tenants take *k* ``assignment.claim_tenant`` statements, so a
node's claim rate is roughly ``raw / (1 + (k - 1)·s)``.

    .venv/bin/python -m bench.claim_statements [--batch 16] [--loops 4] [--duration 5]
        [--tenants 1,2,4,8]

Seeds 8 tenants (one project each, many ready tasks) in a fresh database, then for each
*k* runs ``--loops`` closed loops for ``--duration`` seconds, each leasing rounds of
``--batch`` claims spread evenly over *k* tenants (one ``claim_tenant`` per tenant, run
at once on one connection each, as the claim engine does). Leases are put back between
the runs. Prints claims/s, the round's p50, and *s* = (rate_1 / rate_k - 1) / (k - 1).
The operators' state write is the same one statement whatever *k*, so it is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg

from bench._common import bench_env, database_url, percentiles, print_table
from services.assignment.tasks import repository

TENANTS = 8
TASKS_PER_TENANT = 40_000


async def seed(conn: asyncpg.Connection) -> list[tuple[uuid.UUID, uuid.UUID]]:
    queues = [(uuid.uuid4(), uuid.uuid4()) for _ in range(TENANTS)]
    for tenant_id, project_id in queues:
        await conn.execute(
            "INSERT INTO assignment.projects (tenant_id, id, revision, name, status, priority, "
            "calling_window, retry, dispositions) "
            "VALUES ($1, $2, 1, 'Bench', 'active', 10, $3::jsonb, '{}', '[]')",
            tenant_id,
            project_id,
            json.dumps({}),
        )
        await conn.execute(
            """
            INSERT INTO assignment.tasks (tenant_id, id, project_id, lead_id, kind, class_rank,
                status, zones, received_at, due_at, next_allowed_at, window_closes_at)
            SELECT $1, gen_random_uuid(), $2, gen_random_uuid(), 'first_call', 1, 'queued',
                   ARRAY['Europe/Moscow'], at, at, at, now() + interval '7 days'
              FROM generate_series(1, $3) g,
                   LATERAL (SELECT now() - make_interval(secs => g)) AS t(at)
            """,
            tenant_id,
            project_id,
            TASKS_PER_TENANT,
        )
    await conn.execute("VACUUM ANALYZE assignment.tasks")
    return queues


async def requeue(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "UPDATE assignment.tasks SET status = 'queued', leased_to = NULL, leased_at = NULL, "
        "lease_expires_at = NULL WHERE status = 'leased'"
    )
    await conn.execute("TRUNCATE assignment.assignments")
    for table in ("tasks", "assignments"):
        await conn.execute(f"VACUUM ANALYZE assignment.{table}")
    await conn.execute("CHECKPOINT")


def rounds(
    queues: list[tuple[uuid.UUID, uuid.UUID]], k: int, batch: int
) -> dict[uuid.UUID, list[repository.Claim]]:
    """One round's claims: ``batch`` fresh operators spread evenly over ``k`` tenants."""
    by_tenant: dict[uuid.UUID, list[repository.Claim]] = {}
    for n in range(batch):
        tenant_id, project_id = queues[n % k]
        by_tenant.setdefault(tenant_id, []).append(
            repository.Claim(
                n=n,
                operator_id=uuid.uuid4(),
                tenant_id=tenant_id,
                project_id=project_id,
                tier=1,
                skills=[],
                assignment_id=uuid.uuid4(),
                span_id=uuid.uuid4(),
                reason="bench",
            )
        )
    return by_tenant


async def run(
    pool: asyncpg.Pool,
    queues: list[tuple[uuid.UUID, uuid.UUID]],
    *,
    k: int,
    batch: int,
    loops: int,
    duration: float,
) -> tuple[float, float]:
    """(claims leased per second, p50 of a round in ms)."""
    leased = 0
    latencies: list[float] = []
    stop_at = time.perf_counter() + duration

    async def one_tenant(tenant_id: uuid.UUID, claims: list[repository.Claim]) -> int:
        async with pool.acquire() as conn:
            return len(await repository.claim_tenant(conn, tenant_id, claims, 600))

    async def loop() -> None:
        nonlocal leased
        while time.perf_counter() < stop_at:
            round_ = rounds(queues, k, batch)
            started = time.perf_counter()
            counts = await asyncio.gather(*(one_tenant(t, c) for t, c in round_.items()))
            latencies.append(time.perf_counter() - started)
            leased += sum(counts)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(loops)))
    elapsed = time.perf_counter() - started
    return leased / elapsed, percentiles(latencies, (50,))[50]


async def main(args: argparse.Namespace) -> None:
    url = database_url()
    conn = await asyncpg.connect(url)
    try:
        queues = await seed(conn)
    finally:
        await conn.close()
    ks = [int(k) for k in args.tenants.split(",")]
    pool = await asyncpg.create_pool(url, min_size=args.loops * max(ks), max_size=64)
    figures: dict[int, tuple[float, float]] = {}
    try:
        for k in ks:
            async with pool.acquire() as conn:
                await requeue(conn)
            figures[k] = await run(
                pool, queues, k=k, batch=args.batch, loops=args.loops, duration=args.duration
            )
    finally:
        await pool.close()
    base = figures[ks[0]][0] if ks[0] == 1 else None
    rows = []
    for k, (rate, p50) in figures.items():
        s = "—" if base is None or k == 1 else f"{(base / rate - 1) / (k - 1):.2f}"
        rows.append([str(k), f"{rate:,.0f}", f"{p50:.2f}", s])
    print_table(
        f"claim_tenant: rounds of {args.batch} claims over k tenants, {args.loops} loops, "
        f"{args.duration:.0f} s each",
        ["k tenants", "claims/s", "round p50 ms", "s"],
        rows,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--loops", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--tenants", default="1,2,4,8")
    arguments = parser.parse_args()
    bench_env("kolokol_bench_claim_statements")
    asyncio.run(main(arguments))
