"""Billing customers: billing's mirror of the tenants it bills, filled by ``tenant.*``.

Onboarding owns tenants; billing keeps what invoicing needs (name, legal name, INN,
billing e-mail, currency, time zone, tax rate, status) in ``billing.customers``,
plus its own facts: the Stripe customer id (set by the Stripe piece) and
``closed_through``, the first day of the last period a billing run closed for the
tenant.

Events may arrive out of order or twice. Each row keeps the ``occurred_at`` of the
last profile change applied (``profile_at``) and of the last status change
(``status_at``); an event's fields are applied only when it is newer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import CHAR, Date, DateTime, Integer, Text, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.errors import CustomerNotMirrored
from shared.db import Base, utcnow

PROFILE_FIELDS = ("name", "legal_name", "inn", "currency", "tax_rate_bp", "timezone")
OPTIONAL_FIELDS = ("billing_email",)
STATUSES = frozenset({"pending", "active", "suspended", "closed"})


class Customer(Base):
    """One tenant as billing knows it (``billing.customers``)."""

    __tablename__ = "customers"
    __table_args__ = {"schema": "billing"}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str] = mapped_column(Text)
    billing_email: Mapped[str | None] = mapped_column(Text, nullable=True)
    currency: Mapped[str] = mapped_column(CHAR(3), default="RUB")
    timezone: Mapped[str] = mapped_column(Text, default="Europe/Moscow")
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(Text, default="pending")
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


def _tenant_id(payload: Mapping[str, Any], envelope_tenant_id: uuid.UUID | None) -> uuid.UUID:
    raw = payload.get("tenant_id") or payload.get("id") or envelope_tenant_id
    if raw is None:
        raise ValueError("tenant event without a tenant id")
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))


def _status_of(payload: Mapping[str, Any]) -> str | None:
    status = payload.get("status", payload.get("to_status"))
    return str(status) if status in STATUSES else None


async def apply_tenant_facts(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    payload: Mapping[str, Any],
    occurred_at: datetime,
) -> Customer:
    """Merge one ``tenant.*`` event's facts into the customer, keeping only what is newer.

    A row is created only from an event that carries the whole profile; an event about
    an unknown tenant without it raises :class:`CustomerNotMirrored` (the broker retries).
    """
    tid = _tenant_id(payload, tenant_id)
    profile = {f: payload[f] for f in PROFILE_FIELDS if payload.get(f) is not None}
    profile.update({f: payload[f] for f in OPTIONAL_FIELDS if payload.get(f) is not None})
    status = _status_of(payload)
    if all(f in profile for f in PROFILE_FIELDS):
        await session.execute(
            insert(Customer)
            .values(
                id=tid,
                **profile,
                status=status or "pending",
                profile_at=occurred_at,
                status_at=occurred_at,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
    row = await session.scalar(
        select(Customer)
        .where(Customer.id == tid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise CustomerNotMirrored(f"tenant {tid} is not a billing customer yet")
    if profile and occurred_at > row.profile_at:
        for name, value in profile.items():
            setattr(row, name, value)
        row.profile_at = occurred_at
    if status is not None and occurred_at > row.status_at:
        row.status = status
        row.status_at = occurred_at
    await session.flush()
    return row
