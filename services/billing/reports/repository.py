"""Every query of billing's reports: issued invoices (drafts and void ones count for
nothing) and deals won, for one tenant or (``tenant_id`` ``None``) all."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from services.billing.usage.models import WonDeal

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


async def revenue_rows(
    session: AsyncSession, from_month: date, before: date, tenant_id: uuid.UUID | None
) -> Sequence[Any]:
    """(period_start, currency, invoices, issued net, paid, outstanding) per month and
    currency of the periods from ``from_month`` to before ``before``."""
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
        .where(Invoice.period_start < before)
        .group_by(Invoice.period_start, Invoice.currency)
        .order_by(Invoice.period_start, Invoice.currency)
    )
    if tenant_id is not None:
        stmt = stmt.where(Invoice.tenant_id == tenant_id)
    return (await session.execute(stmt)).all()


def _by_kind(kind: LineKind) -> ColumnElement[Any]:
    return func.coalesce(
        func.sum(case((InvoiceLine.kind == kind.value, InvoiceLine.amount), else_=0)), 0
    )


async def project_cost_rows(
    session: AsyncSession, month: date, tenant_id: uuid.UUID | None
) -> Sequence[Any]:
    """(tenant_id, project_id, currency, one-off, monthly, usage) billed for ``month``."""
    stmt = (
        select(
            InvoiceLine.tenant_id,
            InvoiceLine.project_id,
            Invoice.currency,
            _by_kind(LineKind.ONE_OFF),
            _by_kind(LineKind.MONTHLY),
            _by_kind(LineKind.USAGE),
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
    if tenant_id is not None:
        stmt = stmt.where(InvoiceLine.tenant_id == tenant_id)
    return (await session.execute(stmt)).all()


async def deals_won(
    session: AsyncSession, month: date, tenant_id: uuid.UUID | None
) -> dict[uuid.UUID, int]:
    """Deals won in ``month`` per project."""
    stmt = (
        select(WonDeal.project_id, func.count())
        .where(WonDeal.month == month)
        .group_by(WonDeal.project_id)
    )
    if tenant_id is not None:
        stmt = stmt.where(WonDeal.tenant_id == tenant_id)
    return {r[0]: int(r[1]) for r in (await session.execute(stmt)).all()}
