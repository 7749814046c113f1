"""Tasks (one unit of operator work on a lead), assignments (who got it and why) and
attempts (what a call achieved). Tenant-owned: PK ``(tenant_id, id)``, tenant RLS."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CHAR,
    BigInteger,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin
from shared.db.partitions import partition_by

SCHEMA = "assignment"


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class NextStep(enum.StrEnum):
    RETRY = "retry"
    CALLBACK = "callback"
    REPEAT_TOUCH = "repeat_touch"
    NONE = "none"


class Task(TenantMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # the head of one (tenant, project, class) queue is one probe
        Index(
            "ix_tasks_ready",
            "tenant_id",
            "project_id",
            "class_rank",
            "next_allowed_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_tasks_window_closes", "window_closes_at", postgresql_where=text("status = 'queued'")
        ),
        Index(
            "ix_tasks_lease_expiry", "lease_expires_at", postgresql_where=text("status = 'leased'")
        ),
        Index(
            "ix_tasks_pending_phone",
            "phone_e164",
            postgresql_where=text("status IN ('queued', 'leased')"),
        ),
        Index(
            "ix_tasks_pending_project",
            "tenant_id",
            "project_id",
            postgresql_where=text("status IN ('queued', 'leased')"),
        ),
        Index("ix_tasks_lead", "tenant_id", "lead_id"),
        Index(
            "uq_tasks_first_call",
            "tenant_id",
            "lead_id",
            unique=True,
            postgresql_where=text("kind = 'first_call'"),
        ),
        {"schema": SCHEMA},
    )

    project_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    class_rank: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(Text, default=TaskStatus.QUEUED, server_default="queued")
    phone_e164: Mapped[str | None] = mapped_column(Text)
    zones: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    priority: Mapped[int] = mapped_column(default=10, server_default="10")
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    next_allowed_at: Mapped[datetime | None]
    window_closes_at: Mapped[datetime | None]
    leased_to: Mapped[uuid.UUID | None]
    leased_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    lease_count: Mapped[int] = mapped_column(default=0, server_default="0")
    completed_by: Mapped[uuid.UUID | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    source_task_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Assignment(TenantMixin, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"],
            ["assignment.tasks.tenant_id", "assignment.tasks.id"],
            name="fk_assignments_tenant_id_tasks",
        ),
        Index("ix_assignments_task", "tenant_id", "task_id"),
        Index("ix_assignments_operator", "operator_id", "assigned_at"),
        {"schema": SCHEMA},
    )

    task_id: Mapped[uuid.UUID]
    operator_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)


class Attempt(TenantMixin, Base):
    __tablename__ = "attempts"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["tenant_id", "id"]}
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"],
            ["assignment.tasks.tenant_id", "assignment.tasks.id"],
            name="fk_attempts_tenant_id_tasks",
        ),
        # One attempt per task: kept by completing, which locks the leased task and
        # closes it with the attempt (a unique index would have to include the month).
        Index("ix_attempts_task", "tenant_id", "task_id"),
        Index("ix_attempts_lead", "tenant_id", "lead_id", "created_at"),
        Index("ix_attempts_created", "created_at"),
        Index("ix_attempts_operator", "operator_id", "created_at"),
        {"schema": SCHEMA, "postgresql_partition_by": partition_by("assignment.attempts")},
    )

    task_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    operator_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int]
    disposition: Mapped[str] = mapped_column(Text)
    to_stage: Mapped[str | None] = mapped_column(Text)
    talk_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[datetime | None]
    deal_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    loss_reason: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text)
    next_task_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
    """The partition key (monthly), so part of the primary key."""
