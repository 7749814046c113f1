"""Platform operations: audit log and scheduler state.

Revision ID: 0004_platform_ops
Revises: 0003_onboarding
Create Date: 2026-11-29 17:30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from alembic import op
from shared.config import APP_DB_ROLE
from shared.db.ddl import tenant_rls

revision: str = "0004_platform_ops"
down_revision: str | None = "0003_onboarding"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "platform"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_state",
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("next_due_at", TZ, nullable=True),
        sa.Column("last_started_at", TZ, nullable=True),
        sa.Column("last_finished_at", TZ, nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("job", name="pk_job_state"),
        schema=SCHEMA,
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_job_runs_job_started_at",
        "job_runs",
        ["job", sa.text("started_at DESC")],
        schema=SCHEMA,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("before", pg.JSONB(), nullable=True),
        sa.Column("after", pg.JSONB(), nullable=True),
        sa.Column("changes", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=SCHEMA,
    )
    # Newest first, keyset on (at, id); one index per filter, each ending in (at, id).
    op.create_index(
        "ix_audit_log_at", "audit_log", [sa.text("at DESC"), sa.text("id DESC")], schema=SCHEMA
    )
    for name, column in (
        ("ix_audit_log_tenant_id", "tenant_id"),
        ("ix_audit_log_actor_id", "actor_id"),
        ("ix_audit_log_action", "action"),
    ):
        op.create_index(
            name, "audit_log", [column, sa.text("at DESC"), sa.text("id DESC")], schema=SCHEMA
        )
    op.create_index(
        "ix_audit_log_entity",
        "audit_log",
        ["entity", "entity_id", sa.text("at DESC"), sa.text("id DESC")],
        schema=SCHEMA,
    )
    # A tenant scope sees its own rows; NULL-tenant rows (staff actions) are staff-only,
    # because ``NULL = x`` is never true in the shared tenant predicate.
    for statement in tenant_rls(f"{SCHEMA}.audit_log"):
        op.execute(statement)
    # Append-only for the services: the app role may insert and read, never rewrite history.
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {SCHEMA}.audit_log FROM {APP_DB_ROLE}")


def downgrade() -> None:
    op.drop_table("audit_log", schema=SCHEMA)
    op.drop_table("job_runs", schema=SCHEMA)
    op.drop_table("job_state", schema=SCHEMA)
