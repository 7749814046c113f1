"""Wire shapes of invoices, their lines and credit notes (money in minor units)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import msgspec

from services.billing.invoices.models import CreditNote as CreditNoteRow
from services.billing.invoices.models import Invoice as InvoiceRow
from services.billing.invoices.models import InvoiceLine as InvoiceLineRow
from services.billing.invoices.models import InvoiceStatus, LineKind
from shared.http.fields import Int8


class Invoice(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    number: str | None
    status: InvoiceStatus
    currency: str
    tax_rate_bp: int
    subtotal: int
    tax: int
    total: int
    credited: int
    amount_paid: int
    amount_due: int
    period_start: date
    period_end: date
    issued_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    payment_attempts: int
    next_payment_at: datetime | None
    overdue_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    created_at: datetime
    updated_at: datetime


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    position: int
    kind: LineKind
    project_id: uuid.UUID | None
    code: str
    description: str
    note: str | None
    unit: str
    quantity: Decimal
    unit_price: int
    amount: int
    service_month: date | None
    active_days: int | None
    days_in_month: int | None
    late: bool


class CreditNoteLine(msgspec.Struct, frozen=True, kw_only=True):
    line_id: uuid.UUID | None
    description: str
    amount: int


class CreditNote(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    currency: str
    subtotal: int
    tax: int
    total: int
    reason: str
    lines: list[CreditNoteLine]
    created_at: datetime


class InvoiceDetail(Invoice, frozen=True, kw_only=True):
    lines: list[InvoiceLine]
    credit_notes: list[CreditNote]


class VoidRequest(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = msgspec.field(default="")


class CreditLineInput(msgspec.Struct, frozen=True, kw_only=True):
    line_id: uuid.UUID
    amount: Int8


class CreditNoteCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Credit ``amount`` (net, minor units) or specific ``lines``; tax is added."""

    reason: str
    amount: Int8 | None = None
    lines: list[CreditLineInput] | None = None


def invoice_out(row: InvoiceRow) -> Invoice:
    return msgspec.convert(row, Invoice, from_attributes=True)


def line_out(row: InvoiceLineRow) -> InvoiceLine:
    return msgspec.convert(row, InvoiceLine, from_attributes=True)


def credit_note_out(row: CreditNoteRow) -> CreditNote:
    return msgspec.convert(row, CreditNote, from_attributes=True, strict=False)


def detail_out(
    row: InvoiceRow, lines: list[InvoiceLineRow], notes: list[CreditNoteRow]
) -> InvoiceDetail:
    base = msgspec.structs.asdict(invoice_out(row))
    return InvoiceDetail(
        **base,
        lines=[line_out(x) for x in lines],
        credit_notes=[credit_note_out(x) for x in notes],
    )
