"""Billing customers: billing's mirror of the tenants it bills, filled by ``tenant.*``.

Onboarding owns tenants; billing keeps what invoicing needs (name, legal name, INN,
billing e-mail, currency, time zone, tax rate, status) in ``billing.customers``,
plus its own facts: the Stripe customer id (set by the Stripe piece) and
``closed_through``, the first day of the last period a billing run closed for the
tenant.

Events may arrive out of order or twice. Each row keeps the ``occurred_at`` of the
last profile change applied (``profile_at``) and of the last status change
(``status_at``); an event's fields are applied only when it is newer (the rule
lives in :mod:`shared.mirrors.tenants`). Reading a customer and setting its Stripe id
are queries of :mod:`services.billing.mirrors.repository`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CHAR,
    Date,
    DateTime,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.errors import CustomerNotMirrored
from shared.db import Base, utcnow
from shared.db.placement import Placement, placed
from shared.mirrors.tenants import TenantPayload, read_tenant_facts, upsert_tenant_mirror

PROFILE_FIELDS = ("name", "legal_name", "inn", "currency", "tax_rate_bp", "timezone")
"""What a row cannot be created without."""
OPTIONAL_FIELDS = ("billing_email",)


class Customer(Base):
    """One tenant as billing knows it (``billing.customers``)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("stripe_customer_id", name="uq_customers_stripe_customer_id"),
        {"schema": "billing", "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str] = mapped_column(Text)
    billing_email: Mapped[str | None] = mapped_column(Text, nullable=True)
    currency: Mapped[str] = mapped_column(CHAR(3), default="RUB", server_default="RUB")
    timezone: Mapped[str] = mapped_column(
        Text, default="Europe/Moscow", server_default="Europe/Moscow"
    )
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    stripe_customer_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    profile_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


async def apply_tenant_facts(
    session: AsyncSession,
    *,
    payload: TenantPayload,
    occurred_at: datetime,
) -> Customer:
    """Merge one ``tenant.*`` event's facts into the customer, keeping only what is newer.

    A row is created only from an event that carries the whole profile; an event about
    an unknown tenant without it raises :class:`CustomerNotMirrored` (the broker retries).
    """
    facts = read_tenant_facts(
        payload, occurred_at=occurred_at, fields=PROFILE_FIELDS + OPTIONAL_FIELDS
    )
    merged = await upsert_tenant_mirror(session, Customer, facts, required=PROFILE_FIELDS)
    if merged is None:
        raise CustomerNotMirrored(f"tenant {facts.tenant_id} is not a billing customer yet")
    row, _ = merged
    await session.flush()
    return row
