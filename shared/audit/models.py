"""``platform.audit_log`` (created by the baseline migration).

Keyed ``(tenant_id, id, at)`` like a distributed table: staff actions that touch no
tenant carry the platform sentinel :data:`shared.ids.PLATFORM_TENANT` (never NULL),
which no tenant is, so row-level security shows them to the staff scope only, while
a tenant scope reads its own tenant's rows. Partitioned by month on ``at`` (kept for
good: :mod:`shared.db.partitions`). The app role may insert and read; it may not
update or delete (append-only).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.partitions import partition_by
from shared.ids import new_id


class AuditLog(Base):
    __tablename__ = "audit_log"
    # The row is addressed without its partition key, which the table's key also holds.
    __mapper_args__ = {"primary_key": ["tenant_id", "id"]}
    __table_args__ = (
        # newest first, keyset on (at, id); one index per filter, each ending in (at, id)
        Index("ix_audit_log_at", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_tenant_id", "tenant_id", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_actor_id", "actor_id", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_action", "action", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_entity", "entity", "entity_id", text("at DESC"), text("id DESC")),
        {"schema": "platform", "postgresql_partition_by": partition_by("platform.audit_log")},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    actor: Mapped[str] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None]
    role: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    changes: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(primary_key=True, server_default=text("now()"))
