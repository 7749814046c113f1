"""Scheduler tables in the ``platform`` schema (created by the baseline migration)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.partitions import partition_by
from shared.db.placement import Placement, placed
from shared.ids import new_id


class JobState(Base):
    """One row per job: when it is next due, so a restart never re-runs a slot that ran."""

    __tablename__ = "job_state"
    __table_args__ = {"schema": "platform", "info": placed(Placement.LOCAL)}

    job: Mapped[str] = mapped_column(Text, primary_key=True)
    schedule: Mapped[str] = mapped_column(Text)
    next_due_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_ok: Mapped[bool | None]


class JobRun(Base):
    """One row per run: ``ok`` is null while it runs (or if the process died mid-run).

    Partitioned by month on ``started_at`` (so it is part of the key); a month goes
    90 days after it ended (:mod:`shared.db.partitions`).
    """

    __tablename__ = "job_runs"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["id"]}
    __table_args__ = (
        Index("ix_job_runs_job_started_at", "job", text("started_at DESC")),
        {
            "schema": "platform",
            "info": placed(Placement.LOCAL),
            "postgresql_partition_by": partition_by("platform.job_runs"),
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    job: Mapped[str] = mapped_column(Text)
    instance: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
