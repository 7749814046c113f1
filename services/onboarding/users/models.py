"""People: staff (no tenant) and client companies' users, in the ``onboarding`` schema."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.onboarding.tenants.models import SCHEMA
from shared.db.base import Base, Timestamps
from shared.db.placement import Placement, placed
from shared.ids import new_id


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class User(Timestamps, Base):
    """A person: staff (``tenant_id`` null) or a client company's user."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_tenant_id", "tenant_id", "created_at", "id"),
        {"schema": SCHEMA, "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.tenants.id"))
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, default=UserStatus.ACTIVE.value, server_default="active"
    )
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The ``ver`` its access tokens must carry; bumped to end every token it holds."""
