"""Tables of tenant webhooks: endpoints (URL, event types, signing secret) and deliveries."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Text, UniqueConstraint, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, Timestamps
from shared.db.partitions import partition_by

SCHEMA = "onboarding"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Stored, not attempted yet."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The last attempt failed; another one is scheduled at ``next_attempt_at``."""
    DEAD = "dead"
    """Given up after retrying for more than a day."""


class WebhookEndpoint(TenantMixin, Timestamps, Base):
    """A URL a tenant wants events at.

    ``secret`` signs every delivery, so it is stored readable (in this tenant-owned,
    RLS-bound table); it is shown to the tenant only when created or rotated and is
    never logged. Encrypting it at rest with a platform key is future work.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"],
            ["onboarding.tenants.id"],
            name="fk_webhook_endpoints_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        Index("ix_webhook_endpoints_tenant_id_created_at", "tenant_id", "created_at", "id"),
        {"schema": SCHEMA},
    )

    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    secret_rotated_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookEndpoint(id={self.id}, tenant_id={self.tenant_id})"


class WebhookDelivery(TenantMixin, Timestamps, Base):
    """One event for one endpoint: the exact body sent, and how sending it went."""

    __tablename__ = "webhook_deliveries"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["tenant_id", "id"]}
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["onboarding.webhook_endpoints.tenant_id", "onboarding.webhook_endpoints.id"],
            name="fk_webhook_deliveries_tenant_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        # Partitioned by the event's time, fixed per event: a repeated event meets its
        # deliveries in the same month, so one delivery per endpoint and event holds.
        UniqueConstraint(
            "tenant_id",
            "endpoint_id",
            "event_id",
            "event_occurred_at",
            name="uq_webhook_deliveries_endpoint_event",
        ),
        # The sweep's pick: due deliveries still waiting, oldest due first.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'failed')"),
        ),
        Index(
            "ix_webhook_deliveries_endpoint_created", "tenant_id", "endpoint_id", "created_at", "id"
        ),
        {
            "schema": SCHEMA,
            "postgresql_partition_by": partition_by("onboarding.webhook_deliveries"),
        },
    )

    endpoint_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_occurred_at: Mapped[datetime] = mapped_column(primary_key=True)
    """When the event happened: the partition key (monthly), fixed per event."""
    event_type: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, default=DeliveryStatus.PENDING.value, server_default="pending"
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    first_attempted_at: Mapped[datetime | None]
    last_attempted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
