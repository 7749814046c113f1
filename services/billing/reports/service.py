"""Billing reports: revenue per month, cost per project per month (for cost per deal).

Both read issued invoices only (drafts and void invoices count for nothing); a
client sees its own tenant's figures.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import InvalidPeriod
from services.billing.invoices.money import next_month, round_half_up
from services.billing.reports import repository
from services.billing.reports.schemas import (
    ProjectCost,
    ProjectCostReport,
    RevenueMonth,
    RevenueReport,
)
from shared.context import Ctx
from shared.errors import FieldError

MAX_MONTHS = 120


def label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _tenant_filter(ctx: Ctx, tenant_id: uuid.UUID | None) -> uuid.UUID | None:
    return tenant_id if ctx.is_staff else ctx.tenant_id


async def revenue(
    session: AsyncSession,
    ctx: Ctx,
    *,
    from_month: date,
    to_month: date,
    tenant_id: uuid.UUID | None = None,
) -> RevenueReport:
    if to_month < from_month:
        raise InvalidPeriod([FieldError("to", "before_from", "to must not precede from")])
    if (to_month.year - from_month.year) * 12 + to_month.month - from_month.month >= MAX_MONTHS:
        raise InvalidPeriod([FieldError("to", "too_long", f"at most {MAX_MONTHS} months")])
    rows = await repository.revenue_rows(
        session, from_month, next_month(to_month), _tenant_filter(ctx, tenant_id)
    )
    return RevenueReport(
        from_month=label(from_month),
        to_month=label(to_month),
        months=[
            RevenueMonth(
                month=label(r[0]),
                currency=r[1],
                invoices=int(r[2]),
                issued=int(r[3]),
                paid=int(r[4]),
                outstanding=int(r[5]),
            )
            for r in rows
        ],
    )


async def project_costs(
    session: AsyncSession, ctx: Ctx, *, month: date, tenant_id: uuid.UUID | None = None
) -> ProjectCostReport:
    tid = _tenant_filter(ctx, tenant_id)
    deals = await repository.deals_won(session, month, tid)
    projects = []
    for r in await repository.project_cost_rows(session, month, tid):
        one_off, monthly, usage = int(r[3]), int(r[4]), int(r[5])
        billed = one_off + monthly + usage
        won = deals.get(r[1], 0)
        projects.append(
            ProjectCost(
                tenant_id=r[0],
                project_id=r[1],
                currency=r[2],
                one_off=one_off,
                monthly=monthly,
                usage=usage,
                billed=billed,
                deals_won=won,
                cost_per_deal=round_half_up(Decimal(billed) / won) if won else None,
            )
        )
    return ProjectCostReport(month=label(month), projects=projects)
