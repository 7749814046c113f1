"""Tables of CSV imports, in the ``intake`` schema."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin

SCHEMA = "intake"


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (ImportStatus.QUEUED.value, ImportStatus.RUNNING.value)


class Import(TenantMixin, Base):
    """One uploaded file and its progress; ``next_row`` is where a worker resumes."""

    __tablename__ = "imports"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["intake.projects.tenant_id", "intake.projects.id"],
            name="fk_imports_tenant_id_projects",
        ),
        Index(
            "uq_imports_file",
            "tenant_id",
            "project_id",
            "file_sha256",
            unique=True,
            postgresql_where=text("NOT forced AND file_sha256 IS NOT NULL"),
        ),
        Index("ix_imports_project", "tenant_id", "project_id", "id"),
        Index(
            "ix_imports_unfinished",
            "updated_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        {"schema": SCHEMA},
    )

    project_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(
        Text, default=ImportStatus.QUEUED.value, server_default="queued"
    )
    file_name: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    forced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    encoding: Mapped[str] = mapped_column(Text)
    delimiter: Mapped[str] = mapped_column(Text)
    columns: Mapped[list[str]] = mapped_column(JSONB)
    mapping: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    rows_estimate: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Line breaks in the file less the header: the progress bar's total, not a promise."""
    rows_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Data rows whose outcome is committed (``created + duplicates + rejected``)."""
    created: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """CSV records after the header whose effect is committed (blank lines included)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many times a worker has started (or resumed) the import."""
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    errors_purged_at: Mapped[datetime | None]


class ImportChunk(Base):
    """~1 MB of the uploaded file, in order (the file lives here until the import is done)."""

    __tablename__ = "import_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "import_id"],
            ["intake.imports.tenant_id", "intake.imports.id"],
            name="fk_import_chunks_tenant_id_imports",
            ondelete="CASCADE",
        ),
        {"schema": SCHEMA},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RejectedRow(Base):
    """A rejected row: its cells (personal data) and the reasons. Never logged."""

    __tablename__ = "import_errors"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "import_id"],
            ["intake.imports.tenant_id", "intake.imports.id"],
            name="fk_import_errors_tenant_id_imports",
            ondelete="CASCADE",
        ),
        {"schema": SCHEMA},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    """1-based data row (the header is row 0; blank lines count)."""
    raw: Mapped[list[str]] = mapped_column(ARRAY(Text))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


__all__ = ["UNFINISHED", "Import", "ImportChunk", "ImportStatus", "RejectedRow"]
