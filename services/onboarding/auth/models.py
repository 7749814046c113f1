"""Refresh tokens (hashed), in the ``onboarding`` schema: staff-scope only, local."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.onboarding.tenants.models import SCHEMA
from shared.db.base import Base, utcnow
from shared.db.placement import Placement, placed
from shared.ids import new_id


class RefreshToken(Base):
    """One refresh token of a login's family. Rotation spends it (``used_at``) and
    issues the next of the same family; a spent token shown again means it was copied,
    and the whole family is revoked."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        {"schema": SCHEMA, "info": placed(Placement.LOCAL)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    family_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
