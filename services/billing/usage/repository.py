"""Every query billing runs on usage: the ledger, the deals won, and the customer facts
placing them in a period needs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.mirrors.customers import Customer
from services.billing.usage.models import UsageRow, WonDeal


async def placement_facts(
    session: AsyncSession, tenant_id: uuid.UUID
) -> tuple[str, date | None] | None:
    """The customer's time zone and ``closed_through``, the row locked ``FOR SHARE`` (a
    billing run closing a period waits for the usage, or the usage for the run)."""
    row = (
        await session.execute(
            select(Customer.timezone, Customer.closed_through)
            .where(Customer.id == tenant_id)
            .with_for_update(read=True)
        )
    ).one_or_none()
    return None if row is None else (row.timezone, row.closed_through)


async def insert_usage(session: AsyncSession, **values: Any) -> uuid.UUID | None:
    """One ledger row; ``None`` when its ``usage_id`` is already recorded (the key holds
    ``recorded_at``, the partition key, which is fixed per ``usage_id``)."""
    inserted: uuid.UUID | None = await session.scalar(
        insert(UsageRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "usage_id", "recorded_at"])
        .returning(UsageRow.id)
    )
    return inserted


async def get_usage(
    session: AsyncSession, tenant_id: uuid.UUID, row_id: uuid.UUID
) -> UsageRow | None:
    return await session.get(UsageRow, (tenant_id, row_id))


async def customer_timezone(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    timezone: str | None = await session.scalar(
        select(Customer.timezone).where(Customer.id == tenant_id)
    )
    return timezone


async def insert_won_deal(session: AsyncSession, **values: Any) -> bool:
    """Count a lead's deal; ``False`` when the lead's deal is already counted."""
    inserted = await session.scalar(
        insert(WonDeal)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "lead_id"])
        .returning(WonDeal.id)
    )
    return inserted is not None
