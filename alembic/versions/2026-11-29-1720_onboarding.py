"""Onboarding: tenants, their status history, users, API keys.

Revision ID: 0003_onboarding
Revises: 0002_messaging
Create Date: 2026-11-29 17:20

``tenants`` has no ``tenant_id`` column: its row *is* the tenant, so its policy is
written on ``id`` (a tenant sees its own row; staff all). ``users`` carries a
nullable ``tenant_id`` (null for staff), so it is not a tenant-owned table in the
``(tenant_id, id)`` sense; its policy lets the staff scope see every row and a
tenant scope only rows with its ``tenant_id`` (never staff rows). The other two are
tenant-owned and take the shared :func:`shared.db.ddl.tenant_rls` policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0003_onboarding"
down_revision: str | None = "0002_messaging"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "onboarding"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("billing_email", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="2200"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("status_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.UniqueConstraint("inn", name="uq_tenants_inn"),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'closed')", name="ck_tenants_status"
        ),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="ck_tenants_tax_rate_bp"),
        sa.CheckConstraint("inn ~ '^([0-9]{10}|[0-9]{12})$'", name="ck_tenants_inn_digits"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_tenants_currency"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_tenants_status_created", "tenants", ["status", "created_at", "id"], schema=SCHEMA
    )

    op.create_table(
        "tenant_status_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=False),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_tenant_status_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{SCHEMA}.tenants.id"],
            name="fk_tenant_status_changes_tenant_id_tenants",
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="active"),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{SCHEMA}.tenants.id"], name="fk_users_tenant_id_tenants"
        ),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_users_status"),
        sa.CheckConstraint(
            "role IN ('admin', 'account_manager', 'operator', 'client_admin', 'client_user')",
            name="ck_users_role",
        ),
        sa.CheckConstraint(
            "(role IN ('client_admin', 'client_user')) = (tenant_id IS NOT NULL)",
            name="ck_users_tenant_matches_role",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id", "created_at", "id"], schema=SCHEMA)

    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{SCHEMA}.tenants.id"], name="fk_api_keys_tenant_id_tenants"
        ),
        schema=SCHEMA,
    )

    # A tenant sees its own row of tenants; staff users have no tenant, so only staff
    # see them, while a tenant sees its own users.
    for statement in tenant_rls(f"{SCHEMA}.tenants", column="id"):
        op.execute(statement)
    for statement in tenant_rls(f"{SCHEMA}.users"):
        op.execute(statement)
    for table in ("tenant_status_changes", "api_keys"):
        for statement in tenant_rls(f"{SCHEMA}.{table}"):
            op.execute(statement)


def downgrade() -> None:
    for table in ("api_keys", "users", "tenant_status_changes", "tenants"):
        op.drop_table(table, schema=SCHEMA)
