"""Billing Stripe objects: received webhook events, payment attempts, saved payment methods.

Revision ID: 0013_billing_stripe
Revises: 0012_billing
Create Date: 2026-11-29 18:50
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0013_billing_stripe"
down_revision: str | None = "0012_billing"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "billing"


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    # Stripe's events as received (signature checked), unique by Stripe's id; a row is
    # stored before anything acts on it. Not tenant data: no row-level security.
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        _now("received_at"),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_stripe_events_unprocessed",
        "stripe_events",
        ["received_at", "id"],
        schema=SCHEMA,
        postgresql_where=sa.text("processed_at IS NULL"),
    )

    # One row per charge attempt of an invoice; (tenant, invoice, attempt) is claimed
    # before Stripe is called, so one attempt is never charged twice.
    op.create_table(
        "payment_attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_intent_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("error", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_payment_attempts"),
        sa.UniqueConstraint(
            "tenant_id", "invoice_id", "attempt", name="uq_payment_attempts_invoice_attempt"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["billing.invoices.tenant_id", "billing.invoices.id"],
            name="fk_payment_attempts_tenant_id_invoices",
        ),
        sa.CheckConstraint("attempt >= 1", name="ck_payment_attempts_attempt"),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="ck_payment_attempts_status"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_payment_attempts_payment_intent_id",
        "payment_attempts",
        ["payment_intent_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("payment_intent_id IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_attempts_pending",
        "payment_attempts",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    for statement in tenant_rls(f"{SCHEMA}.payment_attempts"):
        op.execute(statement)

    # The payment methods a tenant saved on its Stripe customer; one is the default.
    op.create_table(
        "payment_methods",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.Text(), nullable=False),
        sa.Column("stripe_payment_method_id", sa.Text(), nullable=False),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("last4", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_payment_methods"),
        sa.UniqueConstraint(
            "tenant_id", "stripe_payment_method_id", name="uq_payment_methods_stripe_id"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_payment_methods_default",
        "payment_methods",
        ["tenant_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("is_default"),
    )
    for statement in tenant_rls(f"{SCHEMA}.payment_methods"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("payment_methods", schema=SCHEMA)
    op.drop_table("payment_attempts", schema=SCHEMA)
    op.drop_table("stripe_events", schema=SCHEMA)
