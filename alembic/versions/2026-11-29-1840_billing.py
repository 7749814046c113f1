"""Billing ledger: customers, price plans, one-off fees, usage, invoices, credit notes.

Revision ID: 0012_billing
Revises: 0011_assignment_dnc
Create Date: 2026-11-29 18:40

``customers`` is billing's mirror of onboarding's tenants (filled by ``tenant.*``);
its row *is* the tenant, so its policy is written on ``id``. ``closed_through`` is
the start of the last period closed for the tenant: a billing run moves it forward
under a row lock, and recording usage reads it under a share lock, so usage never
lands in a period that is being (or has been) closed. ``invoice_counters`` is
platform data (one row per year, locked by whoever numbers invoices). ``won_deals``
counts deals won per project and month (from ``lead.stage_changed``) for cost per
deal. Every other table is tenant-owned: PK ``(tenant_id, id)``, FKs include
``tenant_id``, RLS.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0012_billing"
down_revision: str | None = "0011_assignment_dnc"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "billing"
TZ = sa.DateTime(timezone=True)
INVOICE_STATUSES = "'draft', 'issued', 'paid', 'payment_failed', 'overdue', 'void'"
LINE_KINDS = "'one_off', 'monthly', 'usage'"
TENANT_TABLES = (
    "plans",
    "one_off_fees",
    "usage",
    "invoices",
    "invoice_lines",
    "credit_notes",
    "won_deals",
)


def _now(name: str) -> sa.Column:
    return sa.Column(name, TZ, nullable=False, server_default=sa.func.now())


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{SCHEMA}.{target}.tenant_id", f"{SCHEMA}.{target}.id"],
        name=f"fk_{table}_tenant_id_{target}",
    )


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("billing_email", sa.Text(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("stripe_customer_id", sa.Text(), nullable=True),
        sa.Column("closed_through", sa.Date(), nullable=True),
        sa.Column("profile_at", TZ, nullable=False),
        sa.Column("status_at", TZ, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("stripe_customer_id", name="uq_customers_stripe_customer_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'closed')", name="ck_customers_status"
        ),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="ck_customers_tax_rate_bp"),
        sa.CheckConstraint(
            "closed_through IS NULL OR extract(day FROM closed_through) = 1",
            name="ck_customers_closed_through",
        ),
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.customers", column="id"):
        op.execute(statement)

    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("year", name="pk_invoice_counters"),
        sa.CheckConstraint("last_number >= 0", name="ck_invoice_counters_last_number"),
        schema=SCHEMA,
    )

    op.create_table(
        "plans",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("quote_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("monthly_fees", postgresql.JSONB(), nullable=False),
        sa.Column("usage_rates", postgresql.JSONB(), nullable=False),
        sa.Column("one_off_fees", postgresql.JSONB(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("superseded_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column(
            "ends_at",
            TZ,
            sa.Computed("LEAST(superseded_at, ended_at)", persisted=True),
            nullable=True,
        ),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_plans"),
        sa.UniqueConstraint("tenant_id", "quote_id", name="uq_plans_tenant_id_quote_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_plans_tenant_project_starts",
        "plans",
        ["tenant_id", "project_id", "starts_at"],
        schema=SCHEMA,
    )

    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        _money("subtotal"),
        _money("tax"),
        _money("total"),
        sa.Column("credited", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("issued_at", TZ, nullable=True),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("paid_at", TZ, nullable=True),
        sa.Column("payment_ref", sa.Text(), nullable=True),
        sa.Column("payment_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_payment_at", TZ, nullable=True),
        sa.Column("last_payment_error", sa.Text(), nullable=True),
        sa.Column("overdue_at", TZ, nullable=True),
        sa.Column("voided_at", TZ, nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.UniqueConstraint("tenant_id", "period_start", name="uq_invoices_tenant_id_period_start"),
        sa.CheckConstraint(f"status IN ({INVOICE_STATUSES})", name="ck_invoices_status"),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name="ck_invoices_number_when_issued"
        ),
        sa.CheckConstraint(
            "number IS NULL OR number ~ '^KK-[0-9]{4}-[0-9]{6,}$'", name="ck_invoices_number"
        ),
        sa.CheckConstraint("subtotal >= 0 AND tax >= 0", name="ck_invoices_amounts"),
        sa.CheckConstraint("total = subtotal + tax", name="ck_invoices_total"),
        sa.CheckConstraint("credited BETWEEN 0 AND total", name="ck_invoices_credited"),
        sa.CheckConstraint("period_end >= period_start", name="ck_invoices_period"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_invoices_tenant_created", "invoices", ["tenant_id", "created_at", "id"], schema=SCHEMA
    )
    op.create_index("ix_invoices_created", "invoices", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_invoices_awaiting_payment",
        "invoices",
        ["next_payment_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('issued', 'payment_failed')"),
    )

    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        _money("unit_price"),
        _money("amount"),
        sa.Column("service_month", sa.Date(), nullable=True),
        sa.Column("active_days", sa.Integer(), nullable=True),
        sa.Column("days_in_month", sa.Integer(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoice_lines"),
        _fk("invoice_lines", "invoice_id", "invoices"),
        sa.UniqueConstraint(
            "tenant_id", "invoice_id", "position", name="uq_invoice_lines_invoice_position"
        ),
        sa.CheckConstraint(f"kind IN ({LINE_KINDS})", name="ck_invoice_lines_kind"),
        sa.CheckConstraint("amount >= 0 AND unit_price >= 0", name="ck_invoice_lines_amounts"),
        schema=SCHEMA,
    )

    op.create_table(
        "one_off_fees",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        _money("unit_price"),
        _money("amount"),
        sa.Column("accrued_at", TZ, nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_one_off_fees"),
        _fk("one_off_fees", "plan_id", "plans"),
        _fk("one_off_fees", "invoice_id", "invoices"),
        sa.UniqueConstraint(
            "tenant_id", "plan_id", "position", name="uq_one_off_fees_plan_position"
        ),
        sa.CheckConstraint("amount >= 0", name="ck_one_off_fees_amount"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_one_off_fees_pending",
        "one_off_fees",
        ["tenant_id", "accrued_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("invoice_id IS NULL"),
    )

    op.create_table(
        "usage",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("usage_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("usage_month", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_usage"),
        sa.UniqueConstraint("tenant_id", "usage_id", name="uq_usage_tenant_id_usage_id"),
        sa.CheckConstraint("quantity >= 0", name="ck_usage_quantity"),
        sa.CheckConstraint("period_start >= usage_month", name="ck_usage_period"),
        schema=SCHEMA,
    )
    op.create_index("ix_usage_tenant_period", "usage", ["tenant_id", "period_start"], schema=SCHEMA)

    op.create_table(
        "credit_notes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        _money("subtotal"),
        _money("tax"),
        _money("total"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lines", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credit_notes"),
        _fk("credit_notes", "invoice_id", "invoices"),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
        sa.CheckConstraint("subtotal > 0 AND tax >= 0", name="ck_credit_notes_amounts"),
        sa.CheckConstraint("total = subtotal + tax", name="ck_credit_notes_total"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_notes_invoice", "credit_notes", ["tenant_id", "invoice_id"], schema=SCHEMA
    )

    op.create_table(
        "won_deals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("won_at", TZ, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("deal_value", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_won_deals"),
        sa.UniqueConstraint("tenant_id", "lead_id", name="uq_won_deals_tenant_id_lead_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_won_deals_month_project", "won_deals", ["month", "project_id"], schema=SCHEMA
    )

    for table in TENANT_TABLES:
        for statement in tenant_rls(f"{SCHEMA}.{table}"):
            op.execute(statement)


def downgrade() -> None:
    for table in (
        "won_deals",
        "credit_notes",
        "usage",
        "one_off_fees",
        "invoice_lines",
        "invoices",
        "plans",
        "invoice_counters",
        "customers",
    ):
        op.drop_table(table, schema=SCHEMA)
