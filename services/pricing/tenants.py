"""Pricing's mirror of the tenants it serves, filled by ``tenant.*`` events.

Onboarding owns tenants; pricing keeps the few facts it needs to create projects,
quote and price (name, legal name, INN, currency, tax rate, time zone, status) in
``pricing.tenants``. Company names and INNs are not personal data.

Events may arrive out of order or twice. Each row keeps two clocks, the
``occurred_at`` of the last profile change applied (``profile_at``) and of the last
status change (``status_at``): an event's fields are applied only when the event is
newer than what the row already holds, so a late ``tenant.updated`` never undoes a
later one, and a late profile update is not lost behind an unrelated status change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, DateTime, Integer, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.pricing.errors import TenantNotMirrored
from shared.db import Base, utcnow

PROFILE_FIELDS = ("name", "legal_name", "inn", "currency", "tax_rate_bp", "timezone")
STATUSES = frozenset({"pending", "active", "suspended", "closed"})


class TenantMirror(Base):
    """One tenant as pricing knows it (``pricing.tenants``)."""

    __tablename__ = "tenants"
    __table_args__ = {"schema": "pricing"}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(CHAR(3), default="RUB")
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=2200)
    timezone: Mapped[str] = mapped_column(Text, default="Europe/Moscow")
    status: Mapped[str] = mapped_column(Text, default="pending")
    profile_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every applied change (profile or status)."""
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantMirror | None:
    """The mirrored tenant, or ``None`` when pricing has not heard of it (or may not see it)."""
    return await session.get(TenantMirror, tenant_id)


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
) -> TenantMirror:
    """Merge one event's facts into the mirror, keeping only what is newer.

    ``payload`` holds any of :data:`PROFILE_FIELDS` and ``status`` (or ``to_status``).
    A row is created only from an event that carries the whole profile
    (``tenant.created``, or ``tenant.updated`` with every field); an event about an
    unknown tenant without it raises :class:`TenantNotMirrored`, so the broker retries
    it after ``tenant.created`` has landed.
    """
    tid = _tenant_id(payload, tenant_id)
    profile = {f: payload[f] for f in PROFILE_FIELDS if payload.get(f) is not None}
    status = _status_of(payload)
    if len(profile) == len(PROFILE_FIELDS):
        await session.execute(
            insert(TenantMirror)
            .values(
                id=tid,
                **profile,
                status=status or "pending",
                profile_at=occurred_at,
                status_at=occurred_at,
                version=1,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
    row = await session.scalar(
        select(TenantMirror)
        .where(TenantMirror.id == tid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise TenantNotMirrored(f"tenant {tid} is not mirrored yet")
    changed = False
    if profile and occurred_at > row.profile_at:
        for name, value in profile.items():
            setattr(row, name, value)
        row.profile_at = occurred_at
        changed = True
    if status is not None and occurred_at > row.status_at:
        row.status = status
        row.status_at = occurred_at
        changed = True
    if changed:
        row.version += 1
    await session.flush()
    return row
