"""Intake imports: CSV uploads, their chunks and their rejected rows.

Revision ID: 0009_intake_imports
Revises: 0008_intake
Create Date: 2026-11-29 18:10

Web processes and workers share no filesystem, so an upload is kept in PostgreSQL:
``import_chunks`` holds the file as ~1 MB ``bytea`` pieces in order (``seq``), and
the worker reads them back one at a time. The chunks are deleted once an import is
done (the counters and the file's SHA-256 stay).

``imports.next_row`` is the resume point: the number of CSV records whose effect
(leads, counters, rejected rows) is committed. A worker commits every batch with
its counters and ``next_row`` in one transaction, so a crash resumes from the last
committed batch without counting a row twice.

"Importing the same file twice adds nothing": a partial unique index on
``(tenant_id, project_id, file_sha256) WHERE NOT forced`` makes a byte-identical
second upload answer with the first import, even when the two race.

``import_errors.raw`` is the rejected row's cells: personal data, erased with its
import or 30 days after the import ended (``intake.purge_import_errors``).
``import_chunks`` and ``import_errors`` are keyed by their import and position
(``(tenant_id, import_id, seq|row_no)``): they are parts of an import, not
entities, and still lead with ``tenant_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0009_intake_imports"
down_revision: str | None = "0008_intake"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "intake"
TZ = sa.DateTime(timezone=True)
STATUSES = "'queued', 'running', 'done', 'failed'"


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="queued"),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("chunk_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("encoding", sa.Text(), nullable=False),
        sa.Column("delimiter", sa.Text(), nullable=False),
        sa.Column("columns", postgresql.JSONB(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=True),
        _count("rows_estimate"),
        _count("rows_read"),
        _count("created"),
        _count("duplicates"),
        _count("rejected"),
        _count("next_row"),
        _count("attempts"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("heartbeat_at", TZ, nullable=True),
        sa.Column("errors_purged_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_imports"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            [f"{SCHEMA}.projects.tenant_id", f"{SCHEMA}.projects.id"],
            name="fk_imports_tenant_id_projects",
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_imports_status"),
        sa.CheckConstraint("delimiter IN (',', ';')", name="ck_imports_delimiter"),
        sa.CheckConstraint(
            "next_row >= rows_read AND rows_read = created + duplicates + rejected",
            name="ck_imports_counts",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_imports_file",
        "imports",
        ["tenant_id", "project_id", "file_sha256"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("NOT forced AND file_sha256 IS NOT NULL"),
    )
    op.create_index(
        "ix_imports_project", "imports", ["tenant_id", "project_id", "id"], schema=SCHEMA
    )
    op.create_index(
        "ix_imports_unfinished",
        "imports",
        ["updated_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    for statement in tenant_rls(f"{SCHEMA}.imports"):
        op.execute(statement)

    op.create_table(
        "import_chunks",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "import_id", "seq", name="pk_import_chunks"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "import_id"],
            [f"{SCHEMA}.imports.tenant_id", f"{SCHEMA}.imports.id"],
            name="fk_import_chunks_tenant_id_imports",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.import_chunks"):
        op.execute(statement)

    op.create_table(
        "import_errors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("raw", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "import_id", "row_no", name="pk_import_errors"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "import_id"],
            [f"{SCHEMA}.imports.tenant_id", f"{SCHEMA}.imports.id"],
            name="fk_import_errors_tenant_id_imports",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.import_errors"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("import_errors", schema=SCHEMA)
    op.drop_table("import_chunks", schema=SCHEMA)
    op.drop_table("imports", schema=SCHEMA)
