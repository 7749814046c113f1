"""Do-not-call tables: ``dnc_numbers`` (tenant-owned) and ``dnc_global`` (no tenant).

Why two tables: see the baseline migration's ``_assignment_dnc``. Phones are E.164.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, utcnow
from shared.db.placement import Placement, placed
from shared.ids import new_id

SCHEMA = "assignment"


class DncSource(enum.StrEnum):
    CLIENT = "client"
    OPERATOR_DISPOSITION = "operator_disposition"
    STAFF = "staff"


class DncList(enum.StrEnum):
    TENANT = "tenant"
    GLOBAL = "global"


class DncNumber(TenantMixin, Base):
    """A number on one tenant's list."""

    __tablename__ = "dnc_numbers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone_e164", name="uq_dnc_numbers_tenant_id_phone_e164"),
        Index("ix_dnc_numbers_added", "tenant_id", "added_at", "id"),
        Index("ix_dnc_numbers_phone", "phone_e164"),
        {"schema": SCHEMA},
    )

    phone_e164: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    added_by: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class DncGlobal(Base):
    """A number on the platform's global list (never called for any tenant)."""

    __tablename__ = "dnc_global"
    __table_args__ = (
        UniqueConstraint("phone_e164", name="uq_dnc_global_phone_e164"),
        Index("ix_dnc_global_added", "added_at", "id"),
        {"schema": SCHEMA, "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    phone_e164: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    added_by: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
