"""``platform.dead_letters``: messages the broker gave up on, kept for an operator.

Written by :class:`shared.messaging.broker.DeadLetters` (one row per rejected message:
retries exhausted or unknown actor), so it can be seen, fixed and replayed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.placement import Placement, placed


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_platform_dead_letters_failed_at", "failed_at"),
        Index("ix_platform_dead_letters_event_id", "event_id"),
        {"schema": "platform", "info": placed(Placement.LOCAL)},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    message_id: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    queue: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(server_default=text("0"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    event_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    resolved_at: Mapped[datetime | None]
