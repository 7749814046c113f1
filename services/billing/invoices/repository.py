"""Every query of invoices, lines and credit notes (tenant filtering is RLS's job plus
the explicit ``tenant_id`` filter for clients)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.invoices.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from shared.context import Ctx
from shared.http.pagination import PageParams, paginate


def _visible(stmt: Select[Any], ctx: Ctx) -> Select[Any]:
    if ctx.is_staff:
        return stmt
    if ctx.tenant_id is None:
        return stmt.where(Invoice.id.is_(None))
    return stmt.where(Invoice.tenant_id == ctx.tenant_id)


async def get(
    session: AsyncSession, ctx: Ctx, invoice_id: uuid.UUID, *, for_update: bool = False
) -> Invoice | None:
    stmt = _visible(select(Invoice).where(Invoice.id == invoice_id), ctx)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def mark_overdue(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_ids: Sequence[uuid.UUID], now: datetime
) -> list[Invoice]:
    """Issued or failed → overdue for these invoices of one tenant, in one conditional
    statement: only the rows still issued or failed change, and only they are returned,
    so two dunning runs over the same candidates act once per invoice (no lock held while
    the candidates were chosen, and no statement spans tenants)."""
    stmt = (
        update(Invoice)
        .where(
            Invoice.tenant_id == tenant_id,
            Invoice.id.in_(list(invoice_ids)),
            Invoice.status.in_((InvoiceStatus.ISSUED.value, InvoiceStatus.PAYMENT_FAILED.value)),
        )
        .values(status=InvoiceStatus.OVERDUE.value, overdue_at=now, updated_at=now)
        .returning(Invoice)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def list_page(
    session: AsyncSession,
    ctx: Ctx,
    *,
    params: PageParams,
    status: InvoiceStatus | None = None,
    period: date | None = None,
    tenant_id: uuid.UUID | None = None,
) -> tuple[list[Invoice], str | None]:
    stmt = _visible(select(Invoice), ctx)
    if status is not None:
        stmt = stmt.where(Invoice.status == status.value)
    if period is not None:
        stmt = stmt.where(Invoice.period_start == period)
    if tenant_id is not None:
        stmt = stmt.where(Invoice.tenant_id == tenant_id)
    return await paginate(session, stmt, order_by=(Invoice.created_at, Invoice.id), params=params)


async def lines_of(session: AsyncSession, invoice: Invoice) -> Sequence[InvoiceLine]:
    return (
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.tenant_id == invoice.tenant_id)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    ).all()


async def credit_notes_of(session: AsyncSession, invoice: Invoice) -> Sequence[CreditNote]:
    return (
        await session.scalars(
            select(CreditNote)
            .where(CreditNote.tenant_id == invoice.tenant_id)
            .where(CreditNote.invoice_id == invoice.id)
            .order_by(CreditNote.created_at, CreditNote.id)
        )
    ).all()


async def awaiting_payment(session: AsyncSession, *, now: datetime, limit: int) -> list[Invoice]:
    """Issued or failed invoices whose next charge is due, oldest first, locked
    ``SKIP LOCKED`` so that concurrent chargers take different ones."""
    stmt = (
        select(Invoice)
        .where(Invoice.status.in_((InvoiceStatus.ISSUED.value, InvoiceStatus.PAYMENT_FAILED.value)))
        .where(or_(Invoice.next_payment_at.is_(None), Invoice.next_payment_at <= now))
        .order_by(Invoice.issued_at, Invoice.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def credit_note_count(session: AsyncSession, invoice: Invoice) -> int:
    """How many credit notes the invoice has (the next one's number follows)."""
    count = await session.scalar(
        select(func.count())
        .select_from(CreditNote)
        .where(CreditNote.tenant_id == invoice.tenant_id)
        .where(CreditNote.invoice_id == invoice.id)
    )
    return int(count or 0)


_TAKE = text(
    "INSERT INTO billing.invoice_counters AS c (year, last_number) VALUES (:year, :n) "
    "ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + EXCLUDED.last_number "
    "RETURNING last_number"
)


async def advance_counter(session: AsyncSession, year: int, count: int) -> int:
    """Move the year's invoice counter on by ``count`` (the row stays locked until the
    transaction ends); the last number taken."""
    last: int = (await session.execute(_TAKE, {"year": year, "n": count})).scalar_one()
    return last


_REGISTER = text(
    "INSERT INTO billing.document_numbers (number, kind, tenant_id, document_id) "
    "SELECT t.number, CAST(:kind AS text), t.tenant_id, t.document_id "
    "FROM unnest(CAST(:numbers AS text[]), CAST(:tenant_ids AS uuid[]), "
    "CAST(:document_ids AS uuid[])) AS t(number, tenant_id, document_id)"
)


async def register_numbers(
    session: AsyncSession,
    kind: str,
    documents: Sequence[tuple[str, uuid.UUID, uuid.UUID]],
) -> None:
    """Enter ``documents`` (number, tenant_id, document id) in the number registry, one
    statement; a number already there fails it (``pk_document_numbers``)."""
    numbers, tenant_ids, document_ids = (list(column) for column in zip(*documents, strict=True))
    await session.execute(
        _REGISTER,
        {"kind": kind, "numbers": numbers, "tenant_ids": tenant_ids, "document_ids": document_ids},
    )
