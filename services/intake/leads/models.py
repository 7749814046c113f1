"""Tables of leads, in the ``intake`` schema."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin
from shared.db.partitions import partition_by

SCHEMA = "intake"


class HistoryKind(enum.StrEnum):
    RECEIVED = "received"
    TOUCH = "touch"
    STAGE_CHANGED = "stage_changed"
    ERASED = "erased"


class Lead(TenantMixin, Base):
    """One lead. Personal columns are ``NULL`` once erased; funnel facts stay."""

    __tablename__ = "leads"
    __table_args__ = (
        # dedupe: one keyed lead per phone and per external id in a project
        Index(
            "uq_leads_phone_keyed",
            "tenant_id",
            "project_id",
            "phone_e164",
            unique=True,
            postgresql_where=text("keyed"),
        ),
        Index(
            "uq_leads_external_keyed",
            "tenant_id",
            "project_id",
            "external_id",
            unique=True,
            postgresql_where=text("keyed AND external_id IS NOT NULL"),
        ),
        Index("ix_leads_project", "tenant_id", "project_id", "id"),
        {"schema": SCHEMA},
    )

    project_id: Mapped[uuid.UUID]
    phone_e164: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    keyed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Holds the dedupe keys (phone, external id) while the dedupe window is open."""
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source: Mapped[str | None] = mapped_column(Text)
    utm: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    timezone: Mapped[str] = mapped_column(Text)
    timezone_certain: Mapped[bool] = mapped_column(Boolean)
    stage: Mapped[str] = mapped_column(Text, default="new", server_default="new")
    stage_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many stage changes have been applied (grows by one each)."""
    stage_at: Mapped[datetime | None]
    """Source time of the newest applied change (a task's ``completed_at``, a report's time)."""
    stage_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The task attempt of the newest applied change (ties on ``stage_at``)."""
    deal_value: Mapped[int | None] = mapped_column(BigInteger)
    deal_currency: Mapped[str | None] = mapped_column(CHAR(3))
    loss_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_at: Mapped[datetime | None]
    last_disposition: Mapped[str | None] = mapped_column(Text)
    received_by: Mapped[str | None] = mapped_column(Text)
    """Who submitted it (``api_key:<id>``, ``user:<id>``, ``import:<id>``): the lead's
    ``received`` history entry is read from the lead itself."""
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    erased_at: Mapped[datetime | None]


class LeadHistory(TenantMixin, Base):
    """One fact of a lead's life after it was received: touched again, stage changed,
    erased (``received`` is the lead row's own: ``received_at``, ``received_by``)."""

    __tablename__ = "lead_history"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["tenant_id", "id"]}
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["intake.leads.tenant_id", "intake.leads.id"],
            name="fk_lead_history_tenant_id_leads",
        ),
        Index("ix_lead_history_lead", "tenant_id", "lead_id", "at"),
        {"schema": SCHEMA, "postgresql_partition_by": partition_by("intake.lead_history")},
    )

    lead_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    """Free text from people (personal: erased with the lead)."""
    source: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
    """The partition key (monthly), so part of the primary key."""
