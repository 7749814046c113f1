"""Messaging: outbox and inbox per service, dead letters.

Revision ID: 0002_messaging
Revises: 0001_platform
Create Date: 2026-11-29 17:10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002_messaging"
down_revision: str | None = "0001_platform"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMAS = ("onboarding", "pricing", "intake", "assignment", "billing")
"""The service schemas as they were at this revision (not imported: history is frozen)."""


def upgrade() -> None:
    for schema in SCHEMAS:
        op.create_table(
            "outbox",
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("tenant_id", sa.Uuid(), nullable=True),
            sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("payload", postgresql.JSONB(), nullable=False),
            sa.Column(
                "created_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("now()"),
            ),
            sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_outbox"),
            schema=schema,
        )
        op.create_index(
            f"ix_{schema}_outbox_unpublished",
            "outbox",
            ["created_at", "id"],
            schema=schema,
            postgresql_where=sa.text("published_at IS NULL"),
        )
        op.create_table(
            "inbox",
            sa.Column("event_id", sa.Uuid(), nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column(
                "applied_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("now()"),
            ),
            sa.PrimaryKeyConstraint("event_id", name="pk_inbox"),
            schema=schema,
        )
        op.create_index(f"ix_{schema}_inbox_applied_at", "inbox", ["applied_at"], schema=schema)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column(
            "failed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        schema="platform",
    )
    op.create_index(
        "ix_platform_dead_letters_failed_at", "dead_letters", ["failed_at"], schema="platform"
    )
    op.create_index(
        "ix_platform_dead_letters_event_id", "dead_letters", ["event_id"], schema="platform"
    )


def downgrade() -> None:
    op.drop_table("dead_letters", schema="platform")
    for schema in SCHEMAS:
        op.drop_table("inbox", schema=schema)
        op.drop_table("outbox", schema=schema)
