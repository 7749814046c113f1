"""Tasks (one unit of operator work on a lead), assignments (who got it and why) and
attempts (what a call achieved). Tenant-owned: PK ``(tenant_id, id)``, tenant RLS."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, SmallInteger, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin

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
    __table_args__ = {"schema": SCHEMA}

    project_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    class_rank: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(Text, default=TaskStatus.QUEUED)
    phone_e164: Mapped[str | None] = mapped_column(Text)
    zones: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    priority: Mapped[int] = mapped_column(default=10)
    attempt: Mapped[int] = mapped_column(default=1)
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    next_allowed_at: Mapped[datetime | None]
    window_closes_at: Mapped[datetime | None]
    leased_to: Mapped[uuid.UUID | None]
    leased_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    lease_count: Mapped[int] = mapped_column(default=0)
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
    __table_args__ = {"schema": SCHEMA}

    task_id: Mapped[uuid.UUID]
    operator_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)


class Attempt(TenantMixin, Base):
    __tablename__ = "attempts"
    __table_args__ = {"schema": SCHEMA}

    task_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    operator_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int]
    disposition: Mapped[str] = mapped_column(Text)
    to_stage: Mapped[str | None] = mapped_column(Text)
    talk_seconds: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[datetime | None]
    deal_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    loss_reason: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text)
    next_task_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
