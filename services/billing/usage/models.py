"""Billing's usage tables: the usage ledger (one row per ``usage.recorded`` event, unique
by ``usage_id``) and the deals won per project and month (one per lead)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
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
from shared.db.partitions import partition_by


class UsageRow(TenantMixin, Base):
    """``usage_month``: the calendar month (tenant's time zone) of ``recorded_at``;
    ``period_start``: the period that bills it, the next open one when its own month
    had already closed (then ``late``)."""

    __tablename__ = "usage"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["tenant_id", "id"]}
    __table_args__ = (
        # ``recorded_at`` comes with ``usage_id`` from one event, so it is fixed per usage
        # fact: a repeat meets the first row in its month and the key still dedupes.
        UniqueConstraint(
            "tenant_id", "usage_id", "recorded_at", name="uq_usage_tenant_id_usage_id"
        ),
        Index("ix_usage_tenant_period", "tenant_id", "period_start"),
        {"schema": "billing", "postgresql_partition_by": partition_by("billing.usage")},
    )

    usage_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    metric: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    recorded_at: Mapped[datetime] = mapped_column(primary_key=True)
    """The partition key (monthly), so part of the primary key."""
    usage_month: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class WonDeal(TenantMixin, Base):
    __tablename__ = "won_deals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "lead_id", name="uq_won_deals_tenant_id_lead_id"),
        Index("ix_won_deals_month_project", "month", "project_id"),
        {"schema": "billing"},
    )

    lead_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    won_at: Mapped[datetime]
    month: Mapped[date] = mapped_column(Date)
    deal_value: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(CHAR(3), nullable=True)
