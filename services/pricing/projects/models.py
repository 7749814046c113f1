"""Tables of projects: ``pricing.projects`` and ``pricing.project_status_changes``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantMixin, Timestamps, utcnow


class Project(TenantMixin, Timestamps, Base):
    """A tenant's piece of work: kind, status, operational settings, price plan.

    ``settings_version`` grows by one on *every* change of the project (settings,
    name, status, price plan); each change emits ``project.updated`` with the whole
    snapshot and this number, so a consumer keeps the highest version it has seen.
    """

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_id", "id"),
        Index("ix_projects_created", "created_at", "id"),
        Index("ix_projects_tenant_created", "tenant_id", "created_at", "id"),
        ForeignKeyConstraint(
            ["tenant_id"], ["pricing.tenants.id"], name="fk_projects_tenant_id_tenants"
        ),
        {"schema": "pricing"},
    )

    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="draft", server_default="draft")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    settings_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    price_plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    accepted_quote_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_by: Mapped[str] = mapped_column(Text)


class ProjectStatusChange(TenantMixin, Base):
    """One move of a project's status, with who made it (non-personal actor label)."""

    __tablename__ = "project_status_changes"
    __table_args__ = (
        Index("ix_project_status_changes_project", "tenant_id", "project_id", "created_at"),
        ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["pricing.projects.tenant_id", "pricing.projects.id"],
            name="fk_project_status_changes_tenant_id_projects",
        ),
        {"schema": "pricing"},
    )

    project_id: Mapped[uuid.UUID]
    from_status: Mapped[str | None] = mapped_column(Text, nullable=True)
    to_status: Mapped[str] = mapped_column(Text)
    settings_version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
