"""Intake: tenant and project mirrors, leads, their history, idempotency records.

Revision ID: 0008_intake
Revises: 0007_pricing_quotes
Create Date: 2026-11-29 18:00

``tenants`` and ``projects`` are intake's copies of onboarding's and pricing's rows,
filled by events (intake never reads another schema). ``tenants`` has no
``tenant_id`` (its row *is* the tenant), so its policy is written on ``id``.

Dedupe is held by two partial unique indexes on ``leads``: ``(tenant_id,
project_id, phone_e164)`` and ``(tenant_id, project_id, external_id)``, both
``WHERE keyed``. A lead is *keyed* while its dedupe window is open; an insert that
conflicts with a keyed lead whose window has passed first un-keys it
(``UPDATE … SET keyed = false WHERE keyed AND received_at <= now() - window``) and
tries again. Two concurrent posts of one phone both land on the unique index, so
exactly one row wins; erasure un-keys the lead too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0008_intake"
down_revision: str | None = "0007_pricing_quotes"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "intake"
TZ = sa.DateTime(timezone=True)
STAGES = (
    "'new', 'in_progress', 'contacted', 'qualified', 'proposal', 'won', 'lost', "
    "'invalid', 'do_not_call'"
)
HISTORY_KINDS = "'received', 'touch', 'stage_changed', 'erased'"


def _now(name: str) -> sa.Column:
    return sa.Column(name, TZ, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("status_at", TZ, nullable=False),
        sa.Column("rate_per_second", sa.Integer(), nullable=True),
        sa.Column("rate_burst", sa.Integer(), nullable=True),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'closed')", name="ck_tenants_status"
        ),
        sa.CheckConstraint(
            "rate_per_second IS NULL OR rate_per_second > 0", name="ck_tenants_rate_per_second"
        ),
        sa.CheckConstraint("rate_burst IS NULL OR rate_burst > 0", name="ck_tenants_rate_burst"),
        schema=SCHEMA,
    )
    qualified = f"{SCHEMA}.tenants"
    for statement in tenant_rls(qualified, column="id"):
        op.execute(statement)

    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.projects"):
        op.execute(statement)

    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("keyed", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("fields", postgresql.JSONB(), nullable=True),
        sa.Column("consent", postgresql.JSONB(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("utm", postgresql.JSONB(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("timezone_certain", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False, server_default="new"),
        sa.Column("stage_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stage_at", TZ, nullable=True),
        sa.Column("stage_attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deal_value", sa.BigInteger(), nullable=True),
        sa.Column("deal_currency", sa.CHAR(3), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_attempt_at", TZ, nullable=True),
        sa.Column("last_disposition", sa.Text(), nullable=True),
        _now("received_at"),
        _now("updated_at"),
        sa.Column("erased_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_leads"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            [f"{SCHEMA}.projects.tenant_id", f"{SCHEMA}.projects.id"],
            name="fk_leads_tenant_id_projects",
        ),
        sa.CheckConstraint(f"stage IN ({STAGES})", name="ck_leads_stage"),
        sa.CheckConstraint(
            "erased_at IS NULL OR (phone_e164 IS NULL AND NOT keyed)", name="ck_leads_erased"
        ),
        sa.CheckConstraint("deal_value IS NULL OR deal_value >= 0", name="ck_leads_deal_value"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_leads_phone_keyed",
        "leads",
        ["tenant_id", "project_id", "phone_e164"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("keyed"),
    )
    op.create_index(
        "uq_leads_external_keyed",
        "leads",
        ["tenant_id", "project_id", "external_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("keyed AND external_id IS NOT NULL"),
    )
    op.create_index("ix_leads_project", "leads", ["tenant_id", "project_id", "id"], schema=SCHEMA)
    for statement in tenant_rls(f"{SCHEMA}.leads"):
        op.execute(statement)

    op.create_table(
        "lead_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        _now("at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_lead_history"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            [f"{SCHEMA}.leads.tenant_id", f"{SCHEMA}.leads.id"],
            name="fk_lead_history_tenant_id_leads",
        ),
        sa.CheckConstraint(f"kind IN ({HISTORY_KINDS})", name="ck_lead_history_kind"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_lead_history_lead", "lead_history", ["tenant_id", "lead_id", "at"], schema=SCHEMA
    )
    for statement in tenant_rls(f"{SCHEMA}.lead_history"):
        op.execute(statement)

    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "resource_ids",
            postgresql.ARRAY(sa.Uuid()),
            nullable=False,
            server_default=sa.text("'{}'::uuid[]"),
        ),
        _now("created_at"),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], schema=SCHEMA
    )
    op.create_index(
        "ix_idempotency_keys_resource_ids",
        "idempotency_keys",
        ["resource_ids"],
        schema=SCHEMA,
        postgresql_using="gin",
    )
    for statement in tenant_rls(f"{SCHEMA}.idempotency_keys"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema=SCHEMA)
    op.drop_table("lead_history", schema=SCHEMA)
    op.drop_table("leads", schema=SCHEMA)
    op.drop_table("projects", schema=SCHEMA)
    op.drop_table("tenants", schema=SCHEMA)
