"""Assignment do-not-call lists: one per tenant, and the platform's global list.

Revision ID: 0011_assignment_dnc
Revises: 0010_assignment
Create Date: 2026-11-29 18:30

Two tables rather than one with a nullable ``tenant_id``:

- ``dnc_numbers`` is tenant-owned like every other tenant row (non-null
  ``tenant_id``, PK ``(tenant_id, id)``, the one ``tenant_isolation`` policy), so it
  distributes by tenant with the rest when the database goes to Citus, and no tenant
  can see or touch another's list.
- ``dnc_global`` has no tenant: every scoped session (a tenant's or staff) may *read*
  it — a tenant's claim and its ``check`` must see it — but only the staff scope may
  insert, change or delete. On Citus it becomes a reference table.

A nullable ``tenant_id`` would need a second, special policy on a tenant table and a
``NULLS NOT DISTINCT`` uniqueness, and would not distribute. Both tables keep one row
per number (``unique``), so "is it listed" is one index probe each.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0011_assignment_dnc"
down_revision: str | None = "0010_assignment"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "assignment"
TZ = sa.DateTime(timezone=True)
SOURCES = "source IN ('client', 'operator_disposition', 'staff')"
STAFF = "current_setting('app.scope', true) = 'staff'"
ANY_SCOPE = "current_setting('app.scope', true) IN ('staff', 'tenant')"


def upgrade() -> None:
    op.create_table(
        "dnc_numbers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_dnc_numbers"),
        sa.UniqueConstraint("tenant_id", "phone_e164", name="uq_dnc_numbers_tenant_id_phone_e164"),
        sa.CheckConstraint(SOURCES, name="ck_dnc_numbers_source"),
        sa.CheckConstraint("phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'", name="ck_dnc_numbers_e164"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_dnc_numbers_added", "dnc_numbers", ["tenant_id", "added_at", "id"], schema=SCHEMA
    )
    op.create_index("ix_dnc_numbers_phone", "dnc_numbers", ["phone_e164"], schema=SCHEMA)
    for statement in tenant_rls(f"{SCHEMA}.dnc_numbers"):
        op.execute(statement)

    op.create_table(
        "dnc_global",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_global"),
        sa.UniqueConstraint("phone_e164", name="uq_dnc_global_phone_e164"),
        sa.CheckConstraint(SOURCES, name="ck_dnc_global_source"),
        sa.CheckConstraint("phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'", name="ck_dnc_global_e164"),
        schema=SCHEMA,
    )
    op.create_index("ix_dnc_global_added", "dnc_global", ["added_at", "id"], schema=SCHEMA)
    table = f"{SCHEMA}.dnc_global"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY global_read ON {table} FOR SELECT USING ({ANY_SCOPE})")
    op.execute(f"CREATE POLICY staff_insert ON {table} FOR INSERT WITH CHECK ({STAFF})")
    op.execute(
        f"CREATE POLICY staff_update ON {table} FOR UPDATE USING ({STAFF}) WITH CHECK ({STAFF})"
    )
    op.execute(f"CREATE POLICY staff_delete ON {table} FOR DELETE USING ({STAFF})")


def downgrade() -> None:
    op.drop_table("dnc_global", schema=SCHEMA)
    op.drop_table("dnc_numbers", schema=SCHEMA)
