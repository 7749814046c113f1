"""Usage ledger rows: one per ``usage.recorded`` event (unique by ``usage_id``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantMixin, utcnow


class UsageRow(TenantMixin, Base):
    """``usage_month``: the calendar month (tenant's time zone) of ``recorded_at``;
    ``period_start``: the period that bills it, the next open one when its own month
    had already closed (then ``late``)."""

    __tablename__ = "usage"
    __table_args__ = (
        UniqueConstraint("tenant_id", "usage_id", name="uq_usage_tenant_id_usage_id"),
        Index("ix_usage_tenant_period", "tenant_id", "period_start"),
        {"schema": "billing"},
    )

    usage_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    metric: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    recorded_at: Mapped[datetime]
    usage_month: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
