"""Retention drops a month of 10 M rows in under a second (issue #17, partitions).

    .venv/bin/python -m bench.retention [--rows 10000000] [--keep]

Works in a throw-away database ``kolokol_bench_retention`` (created, migrated, dropped
at the end unless ``--keep``). One month partition of ``intake.outbox`` (January 2025,
long past the 7-day retention) is filled with ``--rows`` published events by
``INSERT … SELECT generate_series`` (built beside the parent and attached, so its
indexes are built once), vacuumed and checkpointed. Then, timed:

- the job: :func:`shared.db.partitions.maintain` over ``intake.outbox``, exactly as the
  ``db.partitions`` job runs it — it checks the month holds no unpublished row (its
  partial index), DETACHes and DROPs the partition;
- the anchor: a raw ``DROP TABLE`` of an equal plain table (same rows, same indexes),
  made the same way in the same run.

Also shown: how long the job held the parent's exclusive lock (the check and the
DETACH; the DROP runs after, with the outbox's writers going on).

Prints the figures, the ratio job / raw drop, and PASS/FAIL against the target (< 1 s);
exit status 1 when the target is missed. The DELETE the job replaced is not timed: on
10 M rows it takes minutes and leaves the table to vacuum, which is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BENCH_REDIS", "redis://127.0.0.1:6379/13")

import asyncpg

from bench import _common

MONTH = date(2025, 1, 1)
TARGET_SECONDS = 1.0
TABLE = "intake.outbox"
RAW = "public.bench_raw_drop"

FILL = """
INSERT INTO {target} (tenant_id, id, event_type, version, occurred_at, payload, created_at,
    published_at, attempts)
SELECT t.tenant_id, gen_random_uuid(), 'lead.received', 1, t.at, '{{}}'::jsonb, t.at, t.at, 1
FROM (
    SELECT ('00000000-0000-4000-8000-' || lpad((g % 100)::text, 12, '0'))::uuid AS tenant_id,
           timestamptz '2025-01-01 00:00+00' + (g % 2678400) * interval '1 second' AS at
    FROM generate_series(1, $1) g
) t
"""


async def fill(url: str, rows: int) -> dict[str, float]:
    """The month's partition and the raw twin, both with ``rows`` rows and their indexes."""
    from shared.config import APP_DB_ROLE
    from shared.db.partitions import BY_TABLE

    spec = BY_TABLE[TABLE]
    partition = f"{spec.schema}.{spec.partition(MONTH)}"
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(f"CREATE TABLE {partition} (LIKE {TABLE} INCLUDING DEFAULTS)")
        await conn.execute(FILL.format(target=partition), rows)
        timings["fill the month"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {partition}"
            f" FOR VALUES FROM ('2025-01-01 00:00+00') TO ('2025-02-01 00:00+00')"
        )
        await conn.execute(f"REVOKE ALL ON {partition} FROM {APP_DB_ROLE}")
        timings["attach (indexes)"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(f"CREATE TABLE {RAW} AS SELECT * FROM {partition}")
        await conn.execute(f"ALTER TABLE {RAW} ADD PRIMARY KEY (tenant_id, id, created_at)")
        await conn.execute(f"CREATE INDEX ON {RAW} (created_at, id) WHERE published_at IS NULL")
        timings["raw twin"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE) {partition}")
        await conn.execute(f"VACUUM (ANALYZE) {RAW}")
        await conn.execute("CHECKPOINT")
        timings["vacuum, checkpoint"] = time.perf_counter() - started
        timings["size MB"] = (
            await conn.fetchval(f"SELECT pg_total_relation_size('{partition}')") / 1e6
        )
    finally:
        await conn.close()
    return timings


async def prepare_months() -> None:
    """Run the job once first, so the timed run has nothing to create (only the drop)."""
    from shared.db.partitions import BY_TABLE, maintain
    from shared.db.session import dispose_engines, get_engine

    try:
        async with get_engine(owner=True).connect() as conn:
            await maintain(conn, datetime.now(UTC), [BY_TABLE[TABLE]])
    finally:
        await dispose_engines()


async def timed_job() -> tuple[float, float, list[str], int]:
    from sqlalchemy import text

    from shared.db.partitions import BY_TABLE, maintain
    from shared.db.session import dispose_engines, get_engine

    try:
        async with get_engine(owner=True).connect() as conn:
            await conn.exec_driver_sql("SELECT 1")  # connected before the clock starts
            await conn.commit()
            started = time.perf_counter()
            report = await maintain(conn, datetime.now(UTC), [BY_TABLE[TABLE]])
            elapsed = time.perf_counter() - started
            left = await conn.scalar(text(f"SELECT count(*) FROM {TABLE}"))
            await conn.commit()
    finally:
        await dispose_engines()
    return elapsed, report.locked_ms / 1000, report.dropped, int(left or 0)


async def timed_raw_drop(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(f"DROP TABLE {RAW}")
        return time.perf_counter() - started
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    _common.bench_env("kolokol_bench_retention")
    url = _common.database_url()
    try:
        asyncio.run(prepare_months())
        print(f"filling {TABLE} {MONTH:%Y-%m} with {args.rows:,} rows in {_common.BENCH_DB} …")
        setup = asyncio.run(fill(url, args.rows))
        job_seconds, locked_seconds, dropped, left = asyncio.run(timed_job())
        raw_seconds = asyncio.run(timed_raw_drop(url))
    finally:
        if not args.keep:

            async def drop() -> None:
                conn = await asyncpg.connect(_common.PG_ADMIN)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{_common.BENCH_DB}" WITH (FORCE)')
                finally:
                    await conn.close()

            asyncio.run(drop())

    load = os.getloadavg()
    _common.print_table(
        f"Set-up ({args.rows:,} rows, {setup.pop('size MB'):,.0f} MB with indexes)",
        ["step", "seconds"],
        [[step, f"{seconds:.1f}"] for step, seconds in setup.items()],
    )
    ok = job_seconds < TARGET_SECONDS and dropped == [f"intake.outbox_p{MONTH:%Y_%m}"]
    _common.print_table(
        f"Retention of one month (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})",
        ["what", "seconds", "ratio to raw DROP", "target", "result"],
        [
            [
                "db.partitions job: check, DETACH, DROP",
                f"{job_seconds:.3f}",
                f"{job_seconds / raw_seconds:.1f}x",
                f"< {TARGET_SECONDS:g} s",
                "PASS" if ok else "FAIL",
            ],
            [
                "  of which the parent locked (check, DETACH)",
                f"{locked_seconds:.3f}",
                "",
                "",
                "",
            ],
            ["raw DROP TABLE (equal table)", f"{raw_seconds:.3f}", "1.0x", "", ""],
        ],
    )
    print(f"dropped: {dropped}; rows left in {TABLE}: {left:,}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
