"""Tenants and their lifecycle log, in the ``onboarding`` schema (slot 0003).

``SCHEMA`` is named here once; the other onboarding concepts' tables import it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CHAR,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, Timestamps, utcnow
from shared.db.placement import Placement, placed
from shared.ids import new_id

SCHEMA = "onboarding"


class TenantStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Tenant(Timestamps, Base):
    """A client company. Its own row is what its tenant scope sees (RLS on ``id``)."""

    __tablename__ = "tenants"
    __table_args__ = (
        Index("ix_tenants_status_created", "status", "created_at", "id"),
        {"schema": SCHEMA, "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str] = mapped_column(Text, unique=True)
    billing_email: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(CHAR(3), default="RUB", server_default="RUB")
    timezone: Mapped[str] = mapped_column(
        Text, default="Europe/Moscow", server_default="Europe/Moscow"
    )
    tax_rate_bp: Mapped[int] = mapped_column(Integer, server_default="2200")
    status: Mapped[str] = mapped_column(
        Text, default=TenantStatus.PENDING.value, server_default="pending"
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    rate_per_second: Mapped[int | None] = mapped_column(Integer)
    """The API-key rate limit of its keys (requests/s, every service's key-authenticated
    routes, see :mod:`shared.auth.standing`); ``NULL``: the platform default."""
    rate_burst: Mapped[int | None] = mapped_column(Integer)


class TenantStatusChange(TenantMixin, Base):
    """One step of a tenant's lifecycle: from, to, why, who, when."""

    __tablename__ = "tenant_status_changes"
    __table_args__ = {"schema": SCHEMA}

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True
    )
    from_status: Mapped[str] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
