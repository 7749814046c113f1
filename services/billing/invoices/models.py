"""Invoice tables: invoices, their lines, credit notes, the per-year number counter and
the registry of the numbers given."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantMixin, Timestamps, utcnow
from shared.db.placement import Placement, placed

SCHEMA = "billing"


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    OVERDUE = "overdue"
    VOID = "void"


UNPAID = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.OVERDUE})
"""Issued and not settled: these may be paid, fail a payment, go overdue, be voided."""


class LineKind(enum.StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    USAGE = "usage"


class Invoice(TenantMixin, Timestamps, Base):
    """One invoice: per tenant and period; numbered when issued (``KK-2026-000123``)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_invoices_tenant_id_number"),
        UniqueConstraint("tenant_id", "period_start", name="uq_invoices_tenant_id_period_start"),
        Index("ix_invoices_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_invoices_created", "created_at", "id"),
        Index(
            "ix_invoices_awaiting_payment",
            "next_payment_at",
            postgresql_where=text("status IN ('issued', 'payment_failed')"),
        ),
        {"schema": SCHEMA},
    )

    number: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(Text, default=InvoiceStatus.DRAFT.value)
    currency: Mapped[str] = mapped_column(CHAR(3))
    tax_rate_bp: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    credited: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    """The last day of the period (inclusive)."""
    issued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(nullable=True)
    payment_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    payment_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_payment_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_payment_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    overdue_at: Mapped[datetime | None] = mapped_column(nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)

    @property
    def amount_due(self) -> int:
        """What the client still owes: total less credit notes and payments."""
        if self.status in (InvoiceStatus.VOID, InvoiceStatus.PAID):
            return 0
        return max(self.total - self.credited - self.amount_paid, 0)


class InvoiceLine(TenantMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["billing.invoices.tenant_id", "billing.invoices.id"],
            name="fk_invoice_lines_tenant_id_invoices",
        ),
        UniqueConstraint(
            "tenant_id", "invoice_id", "position", name="uq_invoice_lines_invoice_position"
        ),
        {"schema": SCHEMA},
    )

    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    project_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    code: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    unit: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    service_month: Mapped[date | None] = mapped_column(Date, nullable=True)
    active_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    days_in_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CreditNote(TenantMixin, Base):
    """A correction of an issued invoice (the invoice itself is never edited)."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["billing.invoices.tenant_id", "billing.invoices.id"],
            name="fk_credit_notes_tenant_id_invoices",
        ),
        UniqueConstraint("tenant_id", "number", name="uq_credit_notes_tenant_id_number"),
        Index("ix_credit_notes_invoice", "tenant_id", "invoice_id"),
        {"schema": SCHEMA},
    )

    invoice_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(CHAR(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


counters = Table(
    "invoice_counters",
    MetaData(),
    Column("year", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False, server_default="0"),
    schema=SCHEMA,
    info=placed(Placement.LOCAL),
)
"""One row per year; whoever issues invoices locks it (``FOR UPDATE``) to number them."""


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


document_numbers = Table(
    "document_numbers",
    counters.metadata,
    Column("number", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("tenant_id", Uuid, nullable=False),
    Column("document_id", Uuid, nullable=False),
    schema=SCHEMA,
    info=placed(Placement.LOCAL),
)
"""Every number given to an invoice or a credit note, once: the documents' own keys are
``(tenant_id, number)`` (what a table distributed by tenant can hold), and this small
platform table, written in the document's transaction, keeps a number from being given
twice across tenants."""
