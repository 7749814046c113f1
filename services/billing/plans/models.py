"""Price plans per project (one per accepted quote) and the one-off fees they bring."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Computed,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantMixin, utcnow

SCHEMA = "billing"


class Plan(TenantMixin, Base):
    """A project's prices from one accepted quote, in force from ``starts_at`` until the
    next accepted quote of the project (``superseded_at``) or the tenant's closure
    (``ended_at``); ``ends_at`` is the earlier of the two (a generated column)."""

    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("tenant_id", "quote_id", name="uq_plans_tenant_id_quote_id"),
        Index("ix_plans_tenant_project_starts", "tenant_id", "project_id", "starts_at"),
        {"schema": SCHEMA},
    )

    project_id: Mapped[uuid.UUID]
    quote_id: Mapped[uuid.UUID]
    quote_version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(CHAR(3))
    tax_rate_bp: Mapped[int] = mapped_column(Integer)
    monthly_fees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    usage_rates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    one_off_fees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    starts_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(
        Computed("LEAST(superseded_at, ended_at)", persisted=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class OneOffFee(TenantMixin, Base):
    """A one-off fee waiting for the next billing run (``invoice_id`` is set when billed)."""

    __tablename__ = "one_off_fees"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "plan_id"],
            ["billing.plans.tenant_id", "billing.plans.id"],
            name="fk_one_off_fees_tenant_id_plans",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["billing.invoices.tenant_id", "billing.invoices.id"],
            name="fk_one_off_fees_tenant_id_invoices",
        ),
        UniqueConstraint("tenant_id", "plan_id", "position", name="uq_one_off_fees_plan_position"),
        Index(
            "ix_one_off_fees_pending",
            "tenant_id",
            "accrued_at",
            postgresql_where=text("invoice_id IS NULL"),
        ),
        {"schema": SCHEMA},
    )

    plan_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    accrued_at: Mapped[datetime]
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
