"""Billing reports: revenue per month, cost per project per month (for cost per deal).

Both read issued invoices only (drafts and void invoices count for nothing); a
client sees its own tenant's figures.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.billing.errors import InvalidPeriod
from services.billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from services.billing.invoices.money import next_month, round_half_up
from services.billing.reports.schemas import (
    ProjectCost,
    ProjectCostReport,
    RevenueMonth,
    RevenueReport,
)
from services.billing.usage.deals import WonDeal
from shared.context import Ctx
from shared.errors import FieldError

COUNTED = (
    InvoiceStatus.ISSUED.value,
    InvoiceStatus.PAID.value,
    InvoiceStatus.PAYMENT_FAILED.value,
    InvoiceStatus.OVERDUE.value,
)
OPEN = (
    InvoiceStatus.ISSUED.value,
    InvoiceStatus.PAYMENT_FAILED.value,
    InvoiceStatus.OVERDUE.value,
)
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
    net = Invoice.total - Invoice.credited
    stmt = (
        select(
            Invoice.period_start,
            Invoice.currency,
            func.count(),
            func.coalesce(func.sum(net), 0),
            func.coalesce(
                func.sum(
                    case((Invoice.status == InvoiceStatus.PAID.value, Invoice.amount_paid), else_=0)
                ),
                0,
            ),
            func.coalesce(
                func.sum(case((Invoice.status.in_(OPEN), net - Invoice.amount_paid), else_=0)),
                0,
            ),
        )
        .where(Invoice.status.in_(COUNTED))
        .where(Invoice.period_start >= from_month)
        .where(Invoice.period_start < next_month(to_month))
        .group_by(Invoice.period_start, Invoice.currency)
        .order_by(Invoice.period_start, Invoice.currency)
    )
    tid = _tenant_filter(ctx, tenant_id)
    if tid is not None:
        stmt = stmt.where(Invoice.tenant_id == tid)
    rows = (await session.execute(stmt)).all()
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
    def by_kind(kind: LineKind) -> ColumnElement[Any]:
        return func.coalesce(
            func.sum(case((InvoiceLine.kind == kind.value, InvoiceLine.amount), else_=0)), 0
        )

    stmt = (
        select(
            InvoiceLine.tenant_id,
            InvoiceLine.project_id,
            Invoice.currency,
            by_kind(LineKind.ONE_OFF),
            by_kind(LineKind.MONTHLY),
            by_kind(LineKind.USAGE),
        )
        .join(
            Invoice,
            and_(Invoice.tenant_id == InvoiceLine.tenant_id, Invoice.id == InvoiceLine.invoice_id),
        )
        .where(Invoice.status.in_(COUNTED))
        .where(Invoice.period_start == month)
        .where(InvoiceLine.project_id.is_not(None))
        .group_by(InvoiceLine.tenant_id, InvoiceLine.project_id, Invoice.currency)
        .order_by(InvoiceLine.tenant_id, InvoiceLine.project_id)
    )
    deals_stmt = (
        select(WonDeal.project_id, func.count())
        .where(WonDeal.month == month)
        .group_by(WonDeal.project_id)
    )
    tid = _tenant_filter(ctx, tenant_id)
    if tid is not None:
        stmt = stmt.where(InvoiceLine.tenant_id == tid)
        deals_stmt = deals_stmt.where(WonDeal.tenant_id == tid)
    deals = {r[0]: int(r[1]) for r in (await session.execute(deals_stmt)).all()}
    projects = []
    for r in (await session.execute(stmt)).all():
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
