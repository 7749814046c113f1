# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""A billing run at scale: 10 000 tenants, 5 000 000 usage rows, under 60 s; again: nothing.

    .venv/bin/python bench/billing_run.py [--tenants 10000] [--rows 5000000] [--keep]

Works in a throw-away database ``kolokol_bench_billing`` (created, migrated, dropped
at the end unless ``--keep``) and Redis db 15. The data is generated in SQL
(``INSERT … SELECT generate_series``, owner connection): customers in Moscow time
at 20 % VAT, one project plan each (a monthly fee of 12 500,00 and three usage
rates; a third of the plans start on 11 October, so their fee is pro-rated), a
one-off fee for every tenth tenant, and ``--rows`` usage rows in October 2026.

The usage table is then vacuumed and analysed and a checkpoint taken: the steady
state of a ledger filled over a month (autovacuum keeps up), not a bulk load's
first read, which also pays for setting every row's hint bits.

Then, as the service does it (app role, staff scope, one transaction each):

- preview of 2026-10 (reads and composes everything, writes nothing);
- the real run of 2026-10 (closes the period, issues and numbers the invoices,
  writes lines, marks one-off fees billed, writes ``invoice.issued`` to the outbox);
- the same run again, which must issue nothing.

The raw limit, measured in the same run: ``INSERT … SELECT FROM unnest(...)`` of
1 000 rows per statement into a plain table (the path our bulk writes take). Ratios
compare usage rows closed per second by the whole run, and rows written per second
by its write phases (invoices + lines + events), with that raw rate. The real run's
time is also broken down by step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BENCH_REDIS", "redis://127.0.0.1:6379/15")

import asyncpg

from bench import _common
from shared.db import partitions

MONTHLY_FEES = '[{"code": "monthly_fee", "name": "Абонентская плата", "unit": "month", "quantity": "1", "unit_price": 1250000, "amount": 1250000}]'  # noqa: E501
USAGE_RATES = (
    '[{"code": "attempt", "name": "Попытка дозвона", "unit": "attempt", "unit_price": 1200, "discount_pct": "0"},'  # noqa: E501
    ' {"code": "talk_minute", "name": "Минута разговора", "unit": "minute", "unit_price": 900, "discount_pct": "0"},'  # noqa: E501
    ' {"code": "qualified_lead", "name": "Квалифицированный лид", "unit": "lead", "unit_price": 45000, "discount_pct": "10"}]'  # noqa: E501
)


async def generate(url: str, tenants: int, rows: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO billing.customers (id, name, legal_name, inn, currency, timezone,
                tax_rate_bp, status, profile_at, status_at)
            SELECT gen_random_uuid(), 'Tenant ' || g, 'ООО «Tenant ' || g || '»',
                   lpad(g::text, 10, '0'), 'RUB', 'Europe/Moscow', 2000, 'active', now(), now()
            FROM generate_series(1, $1) g
            """,
            tenants,
        )
        await conn.execute(
            f"""
            INSERT INTO billing.plans (tenant_id, id, project_id, quote_id, quote_version,
                currency, tax_rate_bp, monthly_fees, usage_rates, one_off_fees, starts_at)
            SELECT c.id, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 1, 'RUB', 2000,
                   '{MONTHLY_FEES}'::jsonb, '{USAGE_RATES}'::jsonb, '[]'::jsonb,
                   CASE WHEN c.n % 3 = 0 THEN timestamptz '2026-10-11 09:00+03'
                        ELSE timestamptz '2026-09-01 00:00+03' END
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM billing.customers) c
            """
        )
        await conn.execute(
            """
            INSERT INTO billing.one_off_fees (tenant_id, id, plan_id, project_id, position, code,
                name, unit, quantity, unit_price, amount, accrued_at)
            SELECT p.tenant_id, gen_random_uuid(), p.id, p.project_id, 1, 'project_setup',
                   'Настройка проекта', 'piece', 1, 1000000, 1000000, p.starts_at
            FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM billing.plans) p
            WHERE p.n % 10 = 0
            """
        )
        timings["tenants, plans, fees"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(
            """
            CREATE TEMP TABLE slots AS
            SELECT row_number() OVER (ORDER BY tenant_id) - 1 AS i, tenant_id, project_id,
                   starts_at
            FROM billing.plans;
            CREATE INDEX ON slots (i);
            ANALYZE slots;
            """
        )
        n = tenants
        # October's partition of the ledger (the baseline made this month's and the next).
        for statement in partitions.create_partition_sql(
            partitions.BY_TABLE["billing.usage"], date(2026, 10, 1)
        ):
            await conn.execute(statement)
        # Bulk load: indexes are built once afterwards (much faster than row by row).
        await conn.execute(
            """
            ALTER TABLE billing.usage DROP CONSTRAINT pk_usage,
                DROP CONSTRAINT uq_usage_tenant_id_usage_id;
            DROP INDEX billing.ix_usage_tenant_period;
            """
        )
        await conn.execute(
            """
            INSERT INTO billing.usage (tenant_id, id, usage_id, project_id, metric, quantity,
                recorded_at, usage_month, period_start, late)
            SELECT s.tenant_id, gen_random_uuid(), gen_random_uuid(), s.project_id,
                   (ARRAY['attempt', 'talk_minute', 'qualified_lead'])[g % 3 + 1],
                   CASE g % 3 WHEN 1 THEN ((g % 600) / 10.0)::numeric ELSE 1 END,
                   greatest(s.starts_at, timestamptz '2026-10-01 00:00+03')
                       + ((g % 1700000) || ' seconds')::interval,
                   date '2026-10-01', date '2026-10-01', false
            FROM generate_series(0, $1 - 1) g
            JOIN slots s ON s.i = g % $2
            """,
            rows,
            n,
        )
        timings["usage rows"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(
            """
            SET maintenance_work_mem = '512MB';
            ALTER TABLE billing.usage
                ADD CONSTRAINT pk_usage PRIMARY KEY (tenant_id, id, recorded_at),
                ADD CONSTRAINT uq_usage_tenant_id_usage_id
                    UNIQUE (tenant_id, usage_id, recorded_at);
            CREATE INDEX ix_usage_tenant_period ON billing.usage (tenant_id, period_start);
            """
        )
        timings["usage indexes"] = time.perf_counter() - started
        # Steady state: usage arrives over a month and autovacuum keeps up with it, so the
        # run should not pay for the bulk load's first visit (hint bits, visibility map).
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) billing.usage")
        await conn.execute("ANALYZE billing.customers, billing.plans, billing.one_off_fees")
        await conn.execute("CHECKPOINT")
        timings["vacuum, analyze, checkpoint"] = time.perf_counter() - started
    finally:
        await conn.close()
    return timings


async def raw_unnest_rate(url: str, statements: int = 100, batch: int = 1000) -> float:
    """Rows/s of ``INSERT … SELECT FROM unnest`` (1 000 rows a statement, one transaction)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_raw (tenant_id uuid, id uuid, "
            "label text, amount bigint, PRIMARY KEY (tenant_id, id))"
        )
        tenant = [uuid.uuid4()] * batch
        started = time.perf_counter()
        async with conn.transaction():
            for _ in range(statements):
                await conn.execute(
                    "INSERT INTO public.bench_raw SELECT * FROM "
                    "unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[]) "
                    "ON CONFLICT DO NOTHING",
                    tenant,
                    [uuid.uuid4() for _ in range(batch)],
                    ["Абонентская плата, октябрь 2026"] * batch,
                    list(range(batch)),
                )
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE public.bench_raw")
    finally:
        await conn.close()
    return statements * batch / elapsed


def _instrument() -> dict[str, float]:
    """Time spent in each repository step (reset before the real run)."""
    import functools

    from services.billing.runs import repository

    spent: dict[str, float] = {}
    for name in (
        "open_tenants",
        "plans_of",
        "usage_totals",
        "pending_fees",
        "close_period",
        "insert_invoices",
        "insert_lines",
        "bill_fees",
        "insert_events",
    ):
        original = getattr(repository, name)

        def timed(original=original, name=name):  # type: ignore[no-untyped-def]
            @functools.wraps(original)
            async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

            return wrapper

        setattr(repository, name, timed())
    return spent


async def runs(tenants: int) -> dict[str, object]:
    from sqlalchemy import text

    from services.billing.runs.service import billing_runs, parse_period
    from shared.context import SYSTEM
    from shared.db.session import STAFF, dispose_engines, session_scope

    period = parse_period("2026-10")
    out: dict[str, object] = {}
    phases = _instrument()
    try:
        started = time.perf_counter()
        async with session_scope(STAFF) as session:
            preview = await billing_runs.run(session, SYSTEM, period=period, preview=True)
        out["preview_s"] = time.perf_counter() - started
        out["preview_invoices"] = preview.invoices_issued

        phases.clear()
        started = time.perf_counter()
        async with session_scope(STAFF) as session:
            first = await billing_runs.run(session, SYSTEM, period=period)
        out["run_s"] = time.perf_counter() - started
        out["phases"] = dict(phases)
        out["run_invoices"] = first.invoices_issued
        out["run_lines"] = sum(i.line_count for i in first.invoices)

        started = time.perf_counter()
        async with session_scope(STAFF) as session:
            second = await billing_runs.run(session, SYSTEM, period=period)
        out["again_s"] = time.perf_counter() - started
        out["again_invoices"] = second.invoices_issued

        async with session_scope(STAFF) as session:
            row = (
                await session.execute(
                    text(
                        "SELECT count(*), count(DISTINCT number), "
                        "max(split_part(number, '-', 3)::int), sum(total) "
                        "FROM billing.invoices"
                    )
                )
            ).one()
        out["stored"] = tuple(row)
        out["preview_matches"] = preview.invoices_issued == first.invoices_issued
    finally:
        await dispose_engines()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    _common.bench_env("kolokol_bench_billing")
    url = _common.database_url()
    print(f"generating {args.tenants} tenants and {args.rows} usage rows in {_common.BENCH_DB} …")
    gen = asyncio.run(generate(url, args.tenants, args.rows))
    raw = asyncio.run(raw_unnest_rate(url))
    try:
        result = asyncio.run(runs(args.tenants))
    finally:
        if not args.keep:

            async def drop() -> None:
                conn = await asyncpg.connect(_common.PG_ADMIN)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{_common.BENCH_DB}" WITH (FORCE)')
                finally:
                    await conn.close()

            asyncio.run(drop())

    run_s = float(result["run_s"])  # type: ignore[arg-type]
    invoices = int(result["run_invoices"])  # type: ignore[call-overload]
    lines = int(result["run_lines"])  # type: ignore[call-overload]
    written = 2 * invoices + lines  # invoices, their events, their lines
    phases: dict[str, float] = result["phases"]  # type: ignore[assignment]
    writing = sum(
        phases.get(name, 0.0)
        for name in ("insert_invoices", "insert_lines", "bill_fees", "insert_events")
    )
    stored = result["stored"]
    rows = [["generate: " + k, f"{v:.1f} s", "", ""] for k, v in gen.items()]
    rows += [
        ["raw INSERT … SELECT FROM unnest (1 000 rows)", "", f"{raw:,.0f} rows/s", "1.00"],
        [
            "preview 2026-10 (no writes)",
            f"{float(result['preview_s']):.1f} s",  # type: ignore[arg-type]
            f"{args.rows / float(result['preview_s']):,.0f} usage rows/s",  # type: ignore[arg-type]
            f"{args.rows / float(result['preview_s']) / raw:.2f}",  # type: ignore[arg-type]
        ],
        [
            f"run 2026-10: {invoices} invoices, {lines} lines",
            f"{run_s:.1f} s",
            f"{args.rows / run_s:,.0f} usage rows/s",
            f"{args.rows / run_s / raw:.2f}",
        ],
        [
            "  … writes: invoices + lines + events + fees billed",
            f"{writing:.1f} s",
            f"{written / writing:,.0f} rows/s",
            f"{written / writing / raw:.2f}",
        ],
        *[[f"  … {name}", f"{seconds:.1f} s", "", ""] for name, seconds in phases.items()],
        [
            f"run again: {result['again_invoices']} invoices",
            f"{float(result['again_s']):.2f} s",  # type: ignore[arg-type]
            "",
            "",
        ],
    ]
    _common.print_table(
        f"Billing run, {args.tenants} tenants, {args.rows} usage rows (target: run < 60 s)",
        ["step", "time", "rate", "ratio to raw"],
        rows,
    )
    print(
        f"stored invoices, distinct numbers, highest number, sum of totals: {stored}; "
        f"preview matched the run: {result['preview_matches']}"
    )
    ok = run_s < 60 and result["again_invoices"] == 0 and invoices > 0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
