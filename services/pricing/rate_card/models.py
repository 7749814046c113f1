"""Rate card tables: an item (code + currency) and its price versions.

Platform data, not tenant-owned, so no row-level security. A quote line copies the
price and the version it used, so editing the rate card never changes a quote.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow
from shared.db.placement import Placement, placed
from shared.ids import new_id


class Unit(enum.StrEnum):
    PIECE = "piece"
    HOUR = "hour"
    MINUTE = "minute"
    ATTEMPT = "attempt"
    LEAD = "lead"
    DEAL = "deal"
    MONTH = "month"


class RateCardItem(Base):
    __tablename__ = "rate_card_items"
    __table_args__ = (
        UniqueConstraint("code", "currency"),
        {"schema": "pricing", "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(CHAR(3))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class RateCardVersion(Base):
    __tablename__ = "rate_card_versions"
    __table_args__ = (
        Index(
            "ix_rate_card_versions_item_effective",
            "item_id",
            text("effective_from DESC"),
            text("version DESC"),
        ),
        UniqueConstraint("item_id", "version"),
        {"schema": "pricing", "info": placed(Placement.REFERENCE)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pricing.rate_card_items.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


rate_card_revision = Table(
    "rate_card_revision",
    Base.metadata,
    Column("id", Boolean, primary_key=True, server_default=true()),
    Column("token", Uuid, nullable=False, server_default=func.gen_random_uuid()),
    schema="pricing",
    info=placed(Placement.REFERENCE),
)
"""One row: a token the rate card's repository replaces in every write's transaction;
the service trusts its cached card while the token is unchanged."""
