"""Deals won per project and month (from ``lead.stage_changed``), for cost per deal.

A lead counts once, in the month (tenant's time zone) it first reached ``won``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CHAR,
    BigInteger,
    Date,
    Index,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.errors import CustomerNotMirrored
from services.billing.invoices.money import month_start
from services.billing.mirrors.customers import Customer
from shared.db import Base, TenantMixin
from shared.ids import new_id

WON = "won"


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


async def record_won_deal(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    lead_id: uuid.UUID,
    project_id: uuid.UUID,
    won_at: datetime,
    deal_value: int | None,
    currency: str | None,
) -> bool:
    """Count the lead's deal once; ``False`` when it was already counted."""
    timezone = await session.scalar(select(Customer.timezone).where(Customer.id == tenant_id))
    if timezone is None:
        raise CustomerNotMirrored(f"tenant {tenant_id} is not a billing customer yet")
    moment = won_at if won_at.tzinfo else won_at.replace(tzinfo=UTC)
    inserted = await session.scalar(
        insert(WonDeal)
        .values(
            tenant_id=tenant_id,
            id=new_id(),
            lead_id=lead_id,
            project_id=project_id,
            won_at=moment,
            month=month_start(moment.astimezone(ZoneInfo(timezone)).date()),
            deal_value=deal_value,
            currency=currency,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "lead_id"])
        .returning(WonDeal.id)
    )
    return inserted is not None
