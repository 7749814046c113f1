"""Queries of billing's customer mirror (the rows :mod:`.customers` keeps from ``tenant.*``)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import CustomerNotMirrored
from services.billing.mirrors.customers import Customer
from shared.db import utcnow


async def get_customer(session: AsyncSession, tenant_id: uuid.UUID) -> Customer | None:
    """The billing customer of a tenant, or ``None`` when billing has not heard of it."""
    return await session.get(Customer, tenant_id)


async def set_stripe_customer_id(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: str
) -> Customer:
    """Remember the tenant's Stripe customer (idempotent; raises when not mirrored)."""
    await session.execute(
        update(Customer)
        .where(Customer.id == tenant_id)
        .values(stripe_customer_id=customer_id, updated_at=utcnow())
    )
    row = await session.scalar(
        select(Customer).where(Customer.id == tenant_id).execution_options(populate_existing=True)
    )
    if row is None:
        raise CustomerNotMirrored(f"tenant {tenant_id} is not a billing customer yet")
    return row
