"""Onboarding idempotency records: ``Idempotency-Key`` on its creating POSTs.

Revision ID: 0015_onboarding_idempotency
Revises: 0014_assignment_claim
Create Date: 2026-11-29 19:10

The table ``shared/http/idempotency.py`` expects in the calling service's schema:
one answer per (tenant, key), kept 24 hours. Staff callers have no tenant; their keys
live under the all-zero tenant id, which only the staff scope can see.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0015_onboarding_idempotency"
down_revision: str | None = "0014_assignment_claim"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "onboarding"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
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
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], schema=SCHEMA
    )
    for statement in tenant_rls(f"{SCHEMA}.idempotency_keys"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema=SCHEMA)
