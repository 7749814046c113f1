"""Billing's Stripe tables (created by the baseline migration)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, utcnow
from shared.db.placement import Placement, placed


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"
    """Claimed; Stripe called or about to be (a crash leaves it here: resent with the same key)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StripeEventRow(Base):
    """A Stripe event as received; ``processed_at`` once it has been applied."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        Index(
            "ix_stripe_events_unprocessed",
            "received_at",
            "id",
            postgresql_where=text("processed_at IS NULL"),
        ),
        {"schema": "billing", "info": placed(Placement.LOCAL)},
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, default=None)


class PaymentAttempt(TenantMixin, Base):
    """One charge of one invoice; ``(tenant_id, invoice_id, attempt)`` is unique."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "invoice_id", "attempt", name="uq_payment_attempts_invoice_attempt"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["billing.invoices.tenant_id", "billing.invoices.id"],
            name="fk_payment_attempts_tenant_id_invoices",
        ),
        Index(
            "ix_payment_attempts_payment_intent_id",
            "payment_intent_id",
            postgresql_where=text("payment_intent_id IS NOT NULL"),
        ),
        Index(
            "ix_payment_attempts_pending", "created_at", postgresql_where=text("status = 'pending'")
        ),
        {"schema": "billing"},
    )

    invoice_id: Mapped[uuid.UUID]
    attempt: Mapped[int]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_intent_id: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(
        Text, default=AttemptStatus.PENDING, server_default="pending"
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), default=utcnow, onupdate=utcnow
    )
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class PaymentMethod(TenantMixin, Base):
    """A payment method saved on the tenant's Stripe customer."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "stripe_payment_method_id", name="uq_payment_methods_stripe_id"
        ),
        # one default per tenant
        Index(
            "uq_payment_methods_default",
            "tenant_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
        {"schema": "billing"},
    )

    stripe_customer_id: Mapped[str] = mapped_column(Text)
    stripe_payment_method_id: Mapped[str] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text, default=None)
    last4: Mapped[str | None] = mapped_column(Text, default=None)
    is_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), default=utcnow, onupdate=utcnow
    )
