"""Pricing: the tenant mirror, projects and their status history.

Revision ID: 0006_pricing
Revises: 0005_onboarding_webhooks
Create Date: 2026-11-29 17:50

``tenants`` is pricing's local copy of onboarding's tenants, filled by the
``tenant.*`` consumers. It has no ``tenant_id`` column (its row *is* the tenant),
so its policy is written on ``id`` like ``onboarding.tenants``: staff see every
row, a tenant only its own. ``projects`` and ``project_status_changes`` are
tenant-owned and take the shared :func:`shared.db.ddl.tenant_rls` policy. The rate
card and quotes live in slot 0007.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0006_pricing"
down_revision: str | None = "0005_onboarding_webhooks"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "pricing"
PROJECT_KINDS = "'inbound', 'outbound_first_call', 'active_sales', 'repeat_touch', 'post_event'"
PROJECT_STATUSES = "'draft', 'quoted', 'active', 'paused', 'closed'"


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="2200"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("profile_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'closed')", name="ck_tenants_status"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_tenants_currency"),
        schema=SCHEMA,
    )
    qualified = f"{SCHEMA}.tenants"
    for statement in tenant_rls(qualified, column="id"):
        op.execute(statement)

    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="draft"),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("price_plan", postgresql.JSONB(), nullable=True),
        sa.Column("accepted_quote_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{SCHEMA}.tenants.id"], name="fk_projects_tenant_id_tenants"
        ),
        sa.CheckConstraint(f"kind IN ({PROJECT_KINDS})", name="ck_projects_kind"),
        sa.CheckConstraint(f"status IN ({PROJECT_STATUSES})", name="ck_projects_status"),
        sa.CheckConstraint("settings_version >= 1", name="ck_projects_settings_version"),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name="ck_projects_name_length"),
        schema=SCHEMA,
    )
    op.create_index("ix_projects_id", "projects", ["id"], schema=SCHEMA)
    op.create_index("ix_projects_created", "projects", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_projects_tenant_created", "projects", ["tenant_id", "created_at", "id"], schema=SCHEMA
    )
    for statement in tenant_rls(f"{SCHEMA}.projects"):
        op.execute(statement)

    op.create_table(
        "project_status_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_project_status_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            [f"{SCHEMA}.projects.tenant_id", f"{SCHEMA}.projects.id"],
            name="fk_project_status_changes_tenant_id_projects",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_project_status_changes_project",
        "project_status_changes",
        ["tenant_id", "project_id", "created_at"],
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.project_status_changes"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("project_status_changes", schema=SCHEMA)
    op.drop_table("projects", schema=SCHEMA)
    op.drop_table("tenants", schema=SCHEMA)
