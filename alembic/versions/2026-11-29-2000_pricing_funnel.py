"""Pricing: ``pricing.funnel_leads``, the project's own funnel for the planner.

One row per lead of a project, filled by intake's and assignment's events: the
furthest funnel step the lead reached (0 received, 1 contacted, 2 qualified, 3 won),
the attempts made on it and their talk seconds. The planner counts them per project
once a project has enough leads, instead of the kind's industry defaults. A row per
lead (not counters) makes the facts order-free: a stage change may come before the
lead's ``lead.received`` and nothing is counted twice.

Revision ID: 0021_pricing_funnel
Revises: 0020_pricing_quote_lines_check
Create Date: 2026-11-29 20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0021_pricing_funnel"
down_revision: str | None = "0020_pricing_quote_lines_check"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "funnel_leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("reached", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tenant_id", "lead_id", name="pk_funnel_leads"),
        sa.CheckConstraint("reached BETWEEN 0 AND 3", name="ck_funnel_leads_reached"),
        schema="pricing",
    )
    op.create_index(
        "ix_funnel_leads_project", "funnel_leads", ["tenant_id", "project_id"], schema="pricing"
    )
    for statement in tenant_rls("pricing.funnel_leads"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("funnel_leads", schema="pricing")
