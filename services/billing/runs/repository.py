"""The billing run's SQL: set-based reads and bulk writes (asyncpg, arrays + ``unnest``).

Everything runs on the caller's session connection, inside its transaction (so the
scope settings for row-level security and the locks hold for the whole run).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.invoices.money import next_month
from services.billing.runs.compose import (
    Fee,
    PendingFee,
    PlanFacts,
    Rate,
    TenantFacts,
    UsageTotal,
)


@dataclass(frozen=True, slots=True)
class RunTenant:
    facts: TenantFacts
    timezone: str


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session`` (its transaction begun)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver_connection = raw.driver_connection
    assert isinstance(driver_connection, asyncpg.Connection)
    return driver_connection


def _tenant(row: asyncpg.Record) -> RunTenant:
    return RunTenant(
        facts=TenantFacts(
            tenant_id=row["id"],
            currency=row["currency"],
            tax_rate_bp=row["tax_rate_bp"],
            closed_through=row["closed_through"],
        ),
        timezone=row["timezone"],
    )


_OPEN = """
SELECT id, closed_through, currency, tax_rate_bp, timezone FROM billing.customers
WHERE (closed_through IS NULL OR closed_through < $1) AND ($2::uuid[] IS NULL OR id = ANY($2))
ORDER BY id
"""

_CLOSE = """
UPDATE billing.customers SET closed_through = $1, updated_at = now()
WHERE id = ANY($2::uuid[])
"""

# Usage of the open customers (their closed_through not yet moved), summed per tenant,
# project, metric, month and lateness, with the time span each group covers (to find
# the plan in force). The customers are the hash join's small side; one pass.
_USAGE = """
SELECT u.tenant_id, u.project_id, u.metric, u.usage_month, u.late,
       sum(u.quantity) AS quantity, min(u.recorded_at) AS first_at,
       max(u.recorded_at) AS last_at
FROM billing.customers c
JOIN billing.usage u ON u.tenant_id = c.id
WHERE (c.closed_through IS NULL OR c.closed_through < $1)
  AND ($2::uuid[] IS NULL OR c.id = ANY($2))
  AND u.period_start <= $1
  AND (c.closed_through IS NULL OR u.period_start > c.closed_through)
GROUP BY u.tenant_id, u.project_id, u.metric, u.usage_month, u.late
"""

# The rare groups whose usage spans a change of plan: split row by row.
_USAGE_BY_PLAN = """
SELECT u.tenant_id, u.project_id, p.id AS plan_id, u.metric, u.usage_month, u.late,
       sum(u.quantity) AS quantity
FROM unnest($2::uuid[], $3::uuid[]) AS k(tenant_id, project_id)
JOIN billing.customers c ON c.id = k.tenant_id
JOIN billing.usage u ON u.tenant_id = k.tenant_id AND u.project_id = k.project_id
LEFT JOIN billing.plans p
  ON p.tenant_id = u.tenant_id AND p.project_id = u.project_id
 AND u.recorded_at >= p.starts_at AND (p.ends_at IS NULL OR u.recorded_at < p.ends_at)
WHERE u.period_start <= $1
  AND (c.closed_through IS NULL OR u.period_start > c.closed_through)
GROUP BY u.tenant_id, u.project_id, p.id, u.metric, u.usage_month, u.late
"""


async def open_tenants(
    conn: asyncpg.Connection,
    period: date,
    tenant_ids: Sequence[uuid.UUID] | None,
    *,
    lock: bool,
) -> list[RunTenant]:
    """The customers whose ``period`` is still open; with ``lock``, locked ``FOR UPDATE``
    in id order (concurrent runs queue without deadlocks; usage recorders wait)."""
    rows = await conn.fetch(
        _OPEN + (" FOR UPDATE" if lock else ""),
        period,
        list(tenant_ids) if tenant_ids is not None else None,
    )
    return [_tenant(r) for r in rows]


async def close_period(
    conn: asyncpg.Connection, period: date, tenants: Sequence[RunTenant]
) -> None:
    """Mark ``period`` closed for the (locked) ``tenants``."""
    await conn.execute(_CLOSE, period, [t.facts.tenant_id for t in tenants])


async def not_closed(conn: asyncpg.Connection, tenant_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The customers among ``tenant_ids`` whose tenant is not closed (or not known)."""
    rows = await conn.fetch(
        "SELECT t.id FROM unnest($1::uuid[]) AS t(id)"
        " LEFT JOIN billing.customers c ON c.id = t.id"
        " WHERE c.status IS DISTINCT FROM 'closed'",
        list(tenant_ids),
    )
    return [r["id"] for r in rows]


async def count_closed(
    conn: asyncpg.Connection, period: date, tenant_ids: Sequence[uuid.UUID] | None
) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM billing.customers WHERE closed_through >= $1 "
        "AND ($2::uuid[] IS NULL OR id = ANY($2))",
        period,
        list(tenant_ids) if tenant_ids is not None else None,
    )
    return int(count)


async def already_invoiced(
    conn: asyncpg.Connection, period: date, tenant_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT tenant_id FROM billing.invoices WHERE period_start = $1 "
        "AND tenant_id = ANY($2::uuid[])",
        period,
        list(tenant_ids),
    )
    return {r["tenant_id"] for r in rows}


@dataclass(frozen=True, slots=True)
class PlanSpan:
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None

    def covers(self, first: datetime, last: datetime) -> bool:
        return self.starts_at <= first and (self.ends_at is None or last < self.ends_at)


async def usage_totals(
    conn: asyncpg.Connection,
    period: date,
    tenant_ids: Sequence[uuid.UUID] | None,
    spans: dict[tuple[uuid.UUID, uuid.UUID], list[PlanSpan]],
) -> dict[uuid.UUID, list[UsageTotal]]:
    """Unbilled usage up to ``period`` of the open customers, per tenant, project, plan in
    force, metric, month and lateness. Run it before :func:`close_period`."""
    # Row-level security's per-row predicate ruins the planner's row estimates (it
    # expects a few rows, not millions), so it would sort millions of rows on disk;
    # hashing (the joins and the aggregate) is right here, so sorting is off for this
    # query alone.
    await conn.execute("SET LOCAL enable_sort = off")
    try:
        rows = await conn.fetch(
            _USAGE, period, list(tenant_ids) if tenant_ids is not None else None
        )
    finally:
        await conn.execute("SET LOCAL enable_sort = on")
    out: dict[uuid.UUID, list[UsageTotal]] = {}
    split: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for r in rows:
        key = (r["tenant_id"], r["project_id"])
        candidates = spans.get(key, [])
        plan = next((p for p in candidates if p.covers(r["first_at"], r["last_at"])), None)
        if plan is None and any(p.starts_at <= r["last_at"] for p in candidates):
            split.add(key)
            continue
        out.setdefault(r["tenant_id"], []).append(
            UsageTotal(
                project_id=r["project_id"],
                plan_id=plan.id if plan else None,
                metric=r["metric"],
                usage_month=r["usage_month"],
                late=r["late"],
                quantity=r["quantity"],
            )
        )
    if split:
        keys = sorted(split)
        for r in await conn.fetch(
            _USAGE_BY_PLAN, period, [k[0] for k in keys], [k[1] for k in keys]
        ):
            out.setdefault(r["tenant_id"], []).append(
                UsageTotal(
                    project_id=r["project_id"],
                    plan_id=r["plan_id"],
                    metric=r["metric"],
                    usage_month=r["usage_month"],
                    late=r["late"],
                    quantity=r["quantity"],
                )
            )
    return out


def _local(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return None if moment is None else moment.astimezone(zone).date()


def _plan(row: asyncpg.Record, zone: ZoneInfo) -> PlanFacts:
    fees = json.loads(row["monthly_fees"])
    rates = json.loads(row["usage_rates"])
    start = _local(row["starts_at"], zone)
    assert start is not None
    return PlanFacts(
        id=row["id"],
        project_id=row["project_id"],
        start=start,
        end=_local(row["ends_at"], zone),
        monthly_fees=tuple(
            Fee(code=f["code"], name=f["name"], amount=int(f["amount"])) for f in fees
        ),
        usage_rates=tuple(
            Rate(
                code=r["code"],
                name=r["name"],
                unit=r["unit"],
                unit_price=int(r["unit_price"]),
                discount_pct=Decimal(str(r.get("discount_pct") or "0")),
            )
            for r in rates
        ),
    )


async def plans_of(
    conn: asyncpg.Connection, period: date, tenants: Sequence[RunTenant]
) -> tuple[dict[uuid.UUID, list[PlanFacts]], dict[tuple[uuid.UUID, uuid.UUID], list[PlanSpan]]]:
    """Plans that started before the period ended: as facts in local dates (each tenant's
    zone), and their exact spans per (tenant, project)."""
    zones = {t.facts.tenant_id: ZoneInfo(t.timezone) for t in tenants}
    rows = await conn.fetch(
        """
        SELECT p.tenant_id, p.id, p.project_id, p.starts_at, p.ends_at,
               p.monthly_fees::text AS monthly_fees, p.usage_rates::text AS usage_rates
        FROM unnest($1::uuid[], $2::text[]) AS t(tenant_id, timezone)
        JOIN billing.plans p ON p.tenant_id = t.tenant_id
        WHERE p.starts_at < ($3::timestamp AT TIME ZONE t.timezone)
        """,
        [t.facts.tenant_id for t in tenants],
        [t.timezone for t in tenants],
        datetime.combine(next_month(period), time()),
    )
    out: dict[uuid.UUID, list[PlanFacts]] = {}
    spans: dict[tuple[uuid.UUID, uuid.UUID], list[PlanSpan]] = {}
    for r in rows:
        out.setdefault(r["tenant_id"], []).append(_plan(r, zones[r["tenant_id"]]))
        spans.setdefault((r["tenant_id"], r["project_id"]), []).append(
            PlanSpan(id=r["id"], starts_at=r["starts_at"], ends_at=r["ends_at"])
        )
    return out, spans


async def pending_fees(
    conn: asyncpg.Connection, period: date, tenants: Sequence[RunTenant]
) -> dict[uuid.UUID, list[PendingFee]]:
    """One-off fees not yet billed that accrued before the period ended."""
    rows = await conn.fetch(
        """
        SELECT f.tenant_id, f.id, f.project_id, f.code, f.name, f.unit, f.quantity,
               f.unit_price, f.amount
        FROM unnest($1::uuid[], $2::text[]) AS t(tenant_id, timezone)
        JOIN billing.one_off_fees f ON f.tenant_id = t.tenant_id
        WHERE f.invoice_id IS NULL AND f.accrued_at < ($3::timestamp AT TIME ZONE t.timezone)
        """,
        [t.facts.tenant_id for t in tenants],
        [t.timezone for t in tenants],
        datetime.combine(next_month(period), time()),
    )
    out: dict[uuid.UUID, list[PendingFee]] = {}
    for r in rows:
        out.setdefault(r["tenant_id"], []).append(
            PendingFee(
                id=r["id"],
                project_id=r["project_id"],
                code=r["code"],
                name=r["name"],
                unit=r["unit"],
                quantity=r["quantity"],
                unit_price=r["unit_price"],
                amount=r["amount"],
            )
        )
    return out


_INSERT_INVOICES = """
INSERT INTO billing.invoices (
    tenant_id, id, number, status, currency, tax_rate_bp, subtotal, tax, total,
    period_start, period_end, issued_at, due_at, run_id, created_at, updated_at
)
SELECT t.tenant_id, t.id, t.number, 'issued', t.currency, t.tax_rate_bp, t.subtotal, t.tax,
       t.total, $9, $10, $11, $12, $13, $11, $11
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[],
            $7::bigint[], $8::bigint[])
     AS t(tenant_id, id, number, currency, tax_rate_bp, subtotal, tax, total)
"""

_INSERT_LINES = """
INSERT INTO billing.invoice_lines (
    tenant_id, id, invoice_id, position, kind, project_id, code, description, note, unit,
    quantity, unit_price, amount, service_month, active_days, days_in_month, late
)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::uuid[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::numeric[],
                     $12::bigint[], $13::bigint[], $14::date[], $15::int[], $16::int[],
                     $17::bool[])
"""

_BILL_FEES = """
UPDATE billing.one_off_fees f SET invoice_id = t.invoice_id
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t(tenant_id, id, invoice_id)
WHERE f.tenant_id = t.tenant_id AND f.id = t.id AND f.invoice_id IS NULL
"""

_INSERT_OUTBOX = """
INSERT INTO billing.outbox (id, event_type, version, tenant_id, occurred_at, payload)
SELECT t.id, $4, $5, t.tenant_id, $6, t.payload::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t(id, tenant_id, payload)
"""


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


async def insert_invoices(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[Any, ...]],
    *,
    period_start: date,
    period_end: date,
    issued_at: datetime,
    due_at: datetime,
    run_id: uuid.UUID,
) -> None:
    """``rows``: (tenant_id, id, number, currency, tax_rate_bp, subtotal, tax, total)."""
    await conn.execute(
        _INSERT_INVOICES,
        *_columns(rows, 8),
        period_start,
        period_end,
        issued_at,
        due_at,
        run_id,
    )


async def insert_lines(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows`` in the column order of ``billing.invoice_lines``."""
    await conn.execute(_INSERT_LINES, *_columns(rows, 17))


async def bill_fees(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows``: (tenant_id, fee id, invoice id)."""
    await conn.execute(_BILL_FEES, *_columns(rows, 3))


async def insert_events(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[Any, ...]],
    *,
    event_type: str,
    version: int,
    occurred_at: datetime,
) -> None:
    """``rows``: (event id, tenant_id, payload JSON text) into ``billing.outbox``."""
    await conn.execute(_INSERT_OUTBOX, *_columns(rows, 3), event_type, version, occurred_at)


async def widen_work_mem(conn: asyncpg.Connection, amount: str) -> None:
    """``work_mem`` for the rest of the transaction (``amount`` is a constant: ``'64MB'``)."""
    await conn.execute(f"SET LOCAL work_mem = '{amount}'")
