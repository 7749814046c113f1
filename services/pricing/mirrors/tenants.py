"""Pricing's mirror of the tenants it serves, filled by ``tenant.*`` events.

Onboarding owns tenants; pricing keeps the few facts it needs to create projects,
quote and price (name, legal name, INN, currency, tax rate, time zone, status) in
``pricing.tenants``. Company names and INNs are not personal data.

Events may arrive out of order or twice. Each row keeps two clocks, the
``occurred_at`` of the last profile change applied (``profile_at``) and of the last
status change (``status_at``); an event's fields are applied only when the event is
newer than what the row already holds (the rule lives in :mod:`shared.mirrors.tenants`).
Pricing adds ``version``, bumped on every applied change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CHAR, DateTime, Integer, Text, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.pricing.errors import TenantNotMirrored
from shared.db import Base, utcnow
from shared.db.placement import Placement, placed
from shared.mirrors.tenants import TenantPayload, read_tenant_facts, upsert_tenant_mirror

PROFILE_FIELDS = ("name", "legal_name", "inn", "currency", "tax_rate_bp", "timezone")


class TenantMirror(Base):
    """One tenant as pricing knows it (``pricing.tenants``)."""

    __tablename__ = "tenants"
    __table_args__ = {"schema": "pricing", "info": placed(Placement.REFERENCE)}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(CHAR(3), default="RUB", server_default="RUB")
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=2200, server_default="2200")
    timezone: Mapped[str] = mapped_column(
        Text, default="Europe/Moscow", server_default="Europe/Moscow"
    )
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    profile_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Bumped on every applied change (profile or status)."""
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantMirror | None:
    """The mirrored tenant, or ``None`` when pricing has not heard of it (or may not see it)."""
    return await session.get(TenantMirror, tenant_id)


async def apply_tenant_facts(
    session: AsyncSession,
    *,
    payload: TenantPayload,
    occurred_at: datetime,
) -> TenantMirror:
    """Merge one event's facts into the mirror, keeping only what is newer.

    ``payload``: a ``tenant.*`` event's (any of :data:`PROFILE_FIELDS`, a status).
    A row is created only from an event that carries the whole profile
    (``tenant.created``, or ``tenant.updated`` with every field); an event about an
    unknown tenant without it raises :class:`TenantNotMirrored`, so the broker retries
    it after ``tenant.created`` has landed.
    """
    facts = read_tenant_facts(payload, occurred_at=occurred_at, fields=PROFILE_FIELDS)
    merged = await upsert_tenant_mirror(session, TenantMirror, facts, required=PROFILE_FIELDS)
    if merged is None:
        raise TenantNotMirrored(f"tenant {facts.tenant_id} is not mirrored yet")
    row, changed = merged
    if changed:
        row.version += 1
    await session.flush()
    return row
