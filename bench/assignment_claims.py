"""Assignment claims against the raw ``FOR UPDATE SKIP LOCKED`` limit, in one run.

    .venv/bin/python -m bench.assignment_claims [--tasks 1000000] [--duration 10]
        [--pollers 64] [--workers N] [--rate 500] [--leads 40] [--idle 60]

1. Seeds ``--tasks`` queued tasks over 100 tenants (one active project each, calling
   window always open) with ``INSERT … SELECT generate_series``, and enough operators
   that each claim in the HTTP phases is a fresh operator's first (so every request is
   a real claim, not "the task you already hold").
2. (a) raw: ``--pollers`` asyncpg connections each looping ``UPDATE … WHERE id =
   (SELECT … ORDER BY next_allowed_at LIMIT 1 FOR UPDATE SKIP LOCKED)`` scoped to a
   random tenant's queue (the same index the service uses) — the raw limit;
   (b) ``--pollers`` HTTP pollers on ``POST /v1/operators/me/next-task`` against the
   assignment service (uvicorn, ``--workers`` processes — one per core by default, as
   deployed — on 127.0.0.1) at saturation;
   (c) the same at ``--rate`` claims/s offered (open loop) → latency percentiles;
   (d) lead ``201`` from intake → the lead's task answered by a waiting long poll, over
   the real pipeline (intake app, relay, ``assignment`` dramatiq worker, LISTEN/NOTIFY),
   ``--leads`` leads spaced out, the last after ``--idle`` seconds of silence.
3. Prints one table, with the HTTP figures as a share of the raw ones.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import asyncpg
import msgspec

from bench._common import (
    INTAKE_APP,
    ROOT,
    WRK,
    Conn,
    Result,
    bench_env,
    closed_loop,
    database_url,
    lua_string,
    open_loop,
    percentiles,
    phone,
    print_table,
    seed,
    serve,
    wrk_closed_loop,
)

TENANTS = 100
ALWAYS = {
    d: {"start": "00:00", "end": "24:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
DISPOSITIONS = [{"code": "qualified", "label": "Qualified", "stage": "qualified", "final": True}]
ASSIGNMENT_APP = "services.assignment.app:create_app"
WARM = 5000
"""Fresh operators set aside for the one-second warm-up (more than it can claim)."""


async def seed_tasks(n_tasks: int, n_operators: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Projects, queued tasks and available operators; answers (project ids, operator ids)."""
    conn = await asyncpg.connect(database_url())
    try:
        tenants = [uuid.uuid4() for _ in range(TENANTS)]
        projects = [uuid.uuid4() for _ in range(TENANTS)]
        await conn.executemany(
            "INSERT INTO assignment.projects (tenant_id, id, revision, name, status, priority, "
            "calling_window, retry, dispositions, speed_to_lead_seconds, script, currency) "
            "VALUES ($1, $2, 1, 'Bench', 'active', 10, $3::jsonb, '{}'::jsonb, $4::jsonb, 300, "
            "'Hello', 'RUB')",
            [
                (t, p, json.dumps(ALWAYS), json.dumps(DISPOSITIONS))
                for t, p in zip(tenants, projects, strict=True)
            ],
        )
        started = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO assignment.tasks (tenant_id, id, project_id, lead_id, kind, class_rank,
                status, phone_e164, zones, priority, attempt, received_at, due_at,
                next_allowed_at, window_closes_at)
            SELECT t.tenant_id, gen_random_uuid(), t.project_id, gen_random_uuid(),
                   k.kind, k.rank, 'queued', '+7916' || lpad((g % 10000000)::text, 7, '0'),
                   ARRAY['Europe/Moscow'], 10, 1, due, due, due, now() + interval '7 days'
              FROM generate_series(1, $1) g
              JOIN LATERAL (SELECT now() - make_interval(secs => (g % 86400)) AS due) d ON true
              JOIN unnest($2::uuid[], $3::uuid[]) WITH ORDINALITY
                   AS t(tenant_id, project_id, n) ON t.n = g % $4 + 1
              JOIN LATERAL (SELECT CASE WHEN g % 20 = 0 THEN 'callback'
                                        WHEN g % 3 = 0 THEN 'retry' ELSE 'first_call' END AS kind,
                                   CASE WHEN g % 20 = 0 THEN 0
                                        WHEN g % 3 = 0 THEN 2 ELSE 1 END::smallint AS rank) k
                   ON true
            """,
            n_tasks,
            tenants,
            projects,
            TENANTS,
        )
        seeded = time.perf_counter() - started
        operators = [uuid.uuid4() for _ in range(n_operators)]
        await conn.execute(
            "INSERT INTO assignment.operators (id, name, state, last_seen_at) "
            "SELECT id, 'bench', 'available', now() FROM unnest($1::uuid[]) id",
            operators,
        )
        await register_people(conn, operators)
        await conn.execute("ANALYZE assignment.tasks")
        print(f"seeded {n_tasks} tasks in {seeded:.1f} s ({n_tasks / seeded:,.0f} rows/s)")
        return projects, operators
    finally:
        await conn.close()


async def register_people(conn: asyncpg.Connection, operators: list[uuid.UUID]) -> None:
    """The operators as onboarding users: a token names a real, active person (a token
    for an unknown user is refused)."""
    await conn.execute(
        "INSERT INTO onboarding.users (id, email, name, role, password_hash) "
        "SELECT id, 'op-' || id || '@bench.test', 'bench', 'operator', '!' "
        "FROM unnest($1::uuid[]) id",
        operators,
    )


async def requeue() -> None:
    conn = await asyncpg.connect(database_url())
    try:
        await conn.execute(
            "UPDATE assignment.tasks SET status = 'queued', leased_to = NULL, leased_at = NULL, "
            "lease_expires_at = NULL WHERE status = 'leased'"
        )
        await conn.execute(
            "UPDATE assignment.operators SET state = 'available', last_seen_at = now()"
        )
    finally:
        await conn.close()
    await settle()


async def settle() -> None:
    """Every phase starts from the same state: the previous phase's dead rows vacuumed
    (not by an autovacuum that wakes mid-phase) and its WAL checkpointed (after a
    checkpoint, each page's first change writes the whole page to the WAL)."""
    conn = await asyncpg.connect(database_url())
    try:
        for table in ("tasks", "operators", "operator_states", "assignments"):
            await conn.execute(f"VACUUM ANALYZE assignment.{table}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


RAW_CLAIM = """
UPDATE assignment.tasks SET status = 'leased', leased_to = $4, leased_at = now(),
       lease_expires_at = now() + interval '10 minutes'
 WHERE (tenant_id, id) = (
       SELECT tenant_id, id FROM assignment.tasks
        WHERE tenant_id = $1 AND project_id = $2 AND class_rank = $3 AND status = 'queued'
          AND next_allowed_at <= now() AND window_closes_at > now()
        ORDER BY next_allowed_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


async def raw_claims(
    queues: list[tuple[uuid.UUID, uuid.UUID]], *, workers: int, duration: float
) -> Result:
    result = Result()
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        conn = await asyncpg.connect(database_url())
        stmt = await conn.prepare(RAW_CLAIM)
        op = uuid.uuid4()
        try:
            while time.perf_counter() < stop_at:
                tenant, project = random.choice(queues)
                t = time.perf_counter()
                async with conn.transaction():
                    await stmt.fetchval(tenant, project, 1, op)
                result.latencies.append(time.perf_counter() - t)
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    result.elapsed = time.perf_counter() - started
    return result


def tokens_for(operators: list[uuid.UUID]) -> list[str]:
    from shared.auth.tokens import issue_access_token
    from shared.context import Role

    return [issue_access_token(user_id=o, role=Role.OPERATOR, tenant_id=None)[0] for o in operators]


def claimer(tokens: list[str]) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    fresh = iter(tokens)

    def make(_: int) -> tuple[str, bytes, dict[str, str]]:
        return "/v1/operators/me/next-task", b"", {"Authorization": f"Bearer {next(fresh)}"}

    return make


async def _tenant_of(project: uuid.UUID) -> uuid.UUID:
    conn = await asyncpg.connect(database_url())
    try:
        value = await conn.fetchval(
            "SELECT tenant_id FROM assignment.projects WHERE id = $1", project
        )
        assert value is not None
        return uuid.UUID(str(value))
    finally:
        await conn.close()


async def speed_to_claimable(
    intake_port: int, port: int, key: str, tenant: str, project: str, *, leads: int, idle: float
) -> Result:
    """201 from intake → the task answered to a long poll already waiting (seconds)."""
    conn = await asyncpg.connect(database_url())
    operator = uuid.uuid4()
    try:
        await conn.execute(
            "INSERT INTO assignment.projects (tenant_id, id, revision, name, status, priority, "
            "calling_window, retry, dispositions, speed_to_lead_seconds, script, currency) "
            "VALUES ($1, $2, 1, 'Pipeline', 'active', 10, $3::jsonb, '{}'::jsonb, $4::jsonb, "
            "300, 'Hello', 'RUB') ON CONFLICT DO NOTHING",
            uuid.UUID(tenant),
            uuid.UUID(project),
            json.dumps(ALWAYS),
            json.dumps(DISPOSITIONS),
        )
        await conn.execute(
            "INSERT INTO assignment.operators (id, name, state, last_seen_at, project_ids) "
            "VALUES ($1, 'pipeline', 'available', now(), ARRAY[$2::uuid])",
            operator,
            uuid.UUID(project),
        )
        await register_people(conn, [operator])
    finally:
        await conn.close()
    [token] = tokens_for([operator])
    auth = {"Authorization": f"Bearer {token}"}
    result = Result()
    numbers = itertools.count(5_000_000)
    for i in range(leads):
        gap = idle if i == leads - 1 else random.uniform(0.2, 1.0)
        await asyncio.sleep(gap)
        # fresh connections: uvicorn closes idle keep-alive connections after 5 s
        intake, poller = await Conn.open(intake_port), await Conn.open(port)
        try:
            poll = asyncio.create_task(poller.post("/v1/operators/me/next-task?wait=20", b"", auth))
            await asyncio.sleep(0.05)  # the poll is waiting
            body = msgspec.json.encode({"project_id": project, "phone": phone(next(numbers))})
            status, _ = await intake.post("/v1/leads", body, {"Authorization": f"Bearer {key}"})
            created = time.perf_counter()
            assert status == 201, status
            got, payload = await poll
            result.latencies.append(time.perf_counter() - created)
            result.statuses[got] = result.statuses.get(got, 0) + 1
            if got == 200:
                task_id = json.loads(payload)["id"]
                await poller.post(
                    f"/v1/tasks/{task_id}/complete", b'{"disposition":"qualified"}', auth
                )
        finally:
            intake.close()
            poller.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pollers", type=int, default=64)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn worker processes (default: one per core; deploy/k8s runs two replicas)",
    )
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--leads", type=int, default=40)
    parser.add_argument("--idle", type=float, default=60.0, help="silence before the last lead")
    args = parser.parse_args()

    env = bench_env("kolokol_bench_assignment")
    env["KOLOKOL_DB_POOL_SIZE"] = os.environ.get("KOLOKOL_DB_POOL_SIZE", "16")
    operators_needed = int(args.duration * 6000 + args.rate * args.duration * 1.2) + WARM + 1000
    projects, operators = asyncio.run(seed_tasks(args.tasks, operators_needed))
    asyncio.run(settle())
    queues = asyncio.run(_queues(projects))
    tokens = tokens_for(operators)
    rows: list[list[str]] = []

    raw = asyncio.run(raw_claims(queues, workers=args.pollers, duration=args.duration))
    asyncio.run(requeue())
    raw_p = percentiles(raw.latencies)
    rows.append(
        [
            f"(a) raw SKIP LOCKED claim, {args.pollers} conns",
            f"{raw.rate:,.0f}",
            f"{raw_p[50]:.1f}",
            f"{raw_p[99]:.1f}",
            "1.00",
            "",
        ]
    )

    with serve(ASSIGNMENT_APP, env, workers=args.workers) as port:
        asyncio.run(closed_loop(port, claimer(tokens[:WARM]), concurrency=8, duration=1.0))  # warm
        if WRK is not None:
            # wrk: a Python client would take a large share of the two cores; each
            # request carries an operator's token never used before (a real claim)
            fresh = tokens[WARM:]
            sat_wrk = wrk_closed_loop(
                port,
                _wrk_claims(fresh),
                concurrency=args.pollers,
                duration=args.duration,
            )
            used = WARM + sat_wrk.requests + args.pollers
            rows.append(
                [
                    f"(b) HTTP next-task, {args.pollers} pollers, {args.workers} workers (wrk)",
                    f"{sat_wrk.rate:,.0f}",
                    f"{sat_wrk.p50_ms:.1f}",
                    f"{sat_wrk.p99_ms:.1f}",
                    f"{sat_wrk.rate / raw.rate:.2f}",
                    f"non-2xx:{sat_wrk.errors} of {sat_wrk.requests}",
                ]
            )
        else:
            sat = asyncio.run(
                closed_loop(
                    port, claimer(tokens[WARM:]), concurrency=args.pollers, duration=args.duration
                )
            )
            used = WARM + sat.count
            sat_p = percentiles(sat.latencies)
            rows.append(
                [
                    f"(b) HTTP next-task, {args.pollers} pollers, {args.workers} workers",
                    f"{sat.rate:,.0f}",
                    f"{sat_p[50]:.1f}",
                    f"{sat_p[99]:.1f}",
                    f"{sat.rate / raw.rate:.2f}",
                    _statuses(sat),
                ]
            )
        asyncio.run(settle())
        offered = asyncio.run(
            open_loop(port, claimer(tokens[used:]), rate=args.rate, duration=args.duration)
        )
        off_p = percentiles(offered.latencies)
        rows.append(
            [
                f"(c) HTTP next-task at {args.rate:.0f}/s offered",
                f"{offered.rate:,.0f}",
                f"{off_p[50]:.1f}",
                f"{off_p[99]:.1f}",
                f"p99 {off_p[99] / raw_p[99]:.2f}x raw",
                _statuses(offered),
            ]
        )

        _show(rows)
        key, tenant, project = seed()
        # few connections each: the machine's PostgreSQL allows 100 in all
        pipeline_env = {**env, "BENCH_FAST_RELAY": "1", "KOLOKOL_DB_POOL_SIZE": "4"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "kolokol", "worker", "--queues", "assignment", "--threads", "2"],
            cwd=ROOT,
            env=pipeline_env,
        )
        relay = subprocess.Popen(
            [sys.executable, "-m", "kolokol", "relay"], cwd=ROOT, env=pipeline_env
        )
        try:
            with serve(INTAKE_APP, pipeline_env) as intake_port:
                time.sleep(2)
                lat = asyncio.run(
                    speed_to_claimable(
                        intake_port, port, key, tenant, project, leads=args.leads, idle=args.idle
                    )
                )
        finally:
            for proc in (worker, relay):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        lat_p = percentiles(lat.latencies)
        rows.append(
            [
                f"(d) lead 201 → claimable ({args.leads} leads, last after {args.idle:.0f} s idle)",
                "",
                f"{lat_p[50]:.0f}",
                f"{lat_p[99]:.0f}",
                f"max {max(lat.latencies) * 1000:.0f} ms",
                _statuses(lat),
            ]
        )

    _show(
        rows,
        title=f"assignment claims — {args.tasks:,} queued tasks, {TENANTS} tenants",
    )


async def _queues(projects: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return [(await _tenant_of(p), p) for p in projects]


def _wrk_claims(tokens: list[str]) -> str:
    """A wrk script posting ``next-task`` with each token once, in order."""
    table = ",".join(lua_string(t) for t in tokens)
    return (
        f"local tokens = {{{table}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #tokens + 1\n"
        "  return wrk.format('POST', '/v1/operators/me/next-task',"
        " {['Authorization'] = 'Bearer ' .. tokens[i]}, '')\n"
        "end\n"
    )


def _show(rows: list[list[str]], title: str = "assignment claims (so far)") -> None:
    print_table(title, ["path", "claims/s", "p50 ms", "p99 ms", "vs raw", "statuses"], rows)


def _statuses(result: Result) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(result.statuses.items()))


if __name__ == "__main__":
    main()
