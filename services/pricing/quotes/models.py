"""Quote tables, tenant-owned: PK ``(tenant_id, id)``, FKs carry ``tenant_id``, RLS.

``quotes`` holds the state and points at its current version; ``quote_versions`` holds
each version's validity and totals (earlier versions stay readable); ``quote_lines``
belong to one version and copy the rate card price and item version they used.
The foreign key to ``pricing.projects`` lives in the migration only (that table
belongs to the projects module).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, Timestamps, utcnow


class QuoteStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    """Another quote of the same project was accepted first."""


OPEN_STATUSES = (QuoteStatus.DRAFT, QuoteStatus.SENT)


class Quote(TenantMixin, Timestamps, Base):
    __tablename__ = "quotes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["pricing.projects.tenant_id", "pricing.projects.id"],
            name="fk_quotes_tenant_id_project_id_projects",
        ),
        Index("ix_quotes_tenant_project", "tenant_id", "project_id"),
        Index("ix_quotes_created", "created_at", "id"),
        Index("ix_quotes_sent_expiry", "status", postgresql_where=text("status = 'sent'")),
        {"schema": "pricing"},
    )

    project_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(16), default=QuoteStatus.DRAFT)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    currency: Mapped[str] = mapped_column(CHAR(3))
    created_by: Mapped[uuid.UUID | None]
    sent_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    """When it was accepted, rejected, expired or superseded."""
    decided_by: Mapped[str | None] = mapped_column(String(80))
    """Actor label (``user:<id>``, ``system``) of that decision."""
    accepted_version: Mapped[int | None] = mapped_column(Integer)


class QuoteVersion(Base):
    __tablename__ = "quote_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "quote_id", "version"),
        ForeignKeyConstraint(
            ["tenant_id", "quote_id"], ["pricing.quotes.tenant_id", "pricing.quotes.id"]
        ),
        {"schema": "pricing"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    quote_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[date]
    currency: Mapped[str] = mapped_column(CHAR(3))
    tax_rate_bp: Mapped[int] = mapped_column(Integer)
    one_off_net: Mapped[int] = mapped_column(BigInteger)
    one_off_tax: Mapped[int] = mapped_column(BigInteger)
    one_off_total: Mapped[int] = mapped_column(BigInteger)
    monthly_net: Mapped[int] = mapped_column(BigInteger)
    monthly_tax: Mapped[int] = mapped_column(BigInteger)
    monthly_total: Mapped[int] = mapped_column(BigInteger)
    usage_estimate_net: Mapped[int] = mapped_column(BigInteger)
    usage_estimate_tax: Mapped[int] = mapped_column(BigInteger)
    usage_estimate_total: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    sent_at: Mapped[datetime | None]


class QuoteLine(Base):
    __tablename__ = "quote_lines"
    __table_args__ = (
        Index("ix_quote_lines_version", "tenant_id", "quote_id", "version", "position"),
        ForeignKeyConstraint(
            ["tenant_id", "quote_id", "version"],
            [
                "pricing.quote_versions.tenant_id",
                "pricing.quote_versions.quote_id",
                "pricing.quote_versions.version",
            ],
            name="fk_quote_lines_tenant_id_quote_versions",
        ),
        {"schema": "pricing"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    quote_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    rate_code: Mapped[str | None] = mapped_column(String(64))
    rate_card_item_id: Mapped[uuid.UUID | None]
    rate_card_version: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    list_unit_price: Mapped[int | None] = mapped_column(BigInteger)
    """The rate card's price when the line was priced (internal)."""
    unit_price: Mapped[int] = mapped_column(BigInteger)
    override_reason: Mapped[str | None] = mapped_column(Text)
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    net: Mapped[int] = mapped_column(BigInteger)
