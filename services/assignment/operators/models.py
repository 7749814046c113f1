"""Operators' profiles and their time-in-state log. Operators are platform staff:
these tables have no ``tenant_id``; their policy admits the staff scope only."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, ForeignKeyConstraint, Index, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.partitions import partition_by
from shared.db.placement import Placement, placed
from shared.ids import new_id

SCHEMA = "assignment"


class OperatorState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"
    ON_TASK = "on_task"


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (
        Index("ix_operators_seen", "last_seen_at", postgresql_where=text("state <> 'offline'")),
        {"schema": SCHEMA, "info": placed(Placement.LOCAL)},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="active", server_default="active")
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    project_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default=text("'{}'::uuid[]")
    )
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    state: Mapped[str] = mapped_column(
        Text, default=OperatorState.OFFLINE, server_default="offline"
    )
    state_since: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime | None]
    current_tenant_id: Mapped[uuid.UUID | None]
    """The tenant of the operator's latest lease (kept after it ends)."""
    current_task_id: Mapped[uuid.UUID | None]
    """The task of the operator's latest lease: with :attr:`current_tenant_id`, how the
    operator endpoints address it (tasks are keyed by ``(tenant_id, id)`` alone)."""
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class OperatorStateSpan(Base):
    """One stretch of time an operator spent in one state (open while ``ended_at`` is null)."""

    __tablename__ = "operator_states"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["id"]}
    __table_args__ = (
        ForeignKeyConstraint(
            ["operator_id"], ["assignment.operators.id"], name="fk_operator_states_operator"
        ),
        Index("ix_operator_states_operator", "operator_id", "started_at"),
        {
            "schema": SCHEMA,
            "info": placed(Placement.LOCAL),
            "postgresql_partition_by": partition_by("assignment.operator_states"),
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    operator_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(primary_key=True)
    """The partition key (monthly), so part of the primary key."""
    ended_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
