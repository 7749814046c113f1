"""``pricing.funnel_leads``: one row per lead of a project, the planner's own funnel.

Written and read by :mod:`services.pricing.planner.history` (its upsert raises a step
or adds a call, so events may come in any order).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, SmallInteger, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base


class FunnelLead(Base):
    """The furthest funnel step a lead reached (0 received … 3 won) and its calls."""

    __tablename__ = "funnel_leads"
    __table_args__ = (
        Index("ix_funnel_leads_project", "tenant_id", "project_id"),
        {"schema": "pricing"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    reached: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    attempts: Mapped[int] = mapped_column(server_default="0")
    talk_seconds: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
