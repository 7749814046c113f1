"""Client systems' API keys (hashed), in the ``onboarding`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.onboarding.tenants.models import SCHEMA
from shared.db.base import Base, TenantMixin, utcnow
from shared.db.placement import Placement, placed


class ApiKey(TenantMixin, Base):
    """A client system's credential; only its SHA-256 hash and display prefix are kept."""

    __tablename__ = "api_keys"
    __table_args__ = {"schema": SCHEMA, "info": placed(Placement.REFERENCE)}

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
