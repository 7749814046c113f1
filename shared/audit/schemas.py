"""Wire shapes of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class AuditEntry(msgspec.Struct, kw_only=True):
    """One recorded action: who (``actor``), what (``action`` on ``entity``), when, and the diff."""

    id: uuid.UUID
    at: datetime
    tenant_id: uuid.UUID | None
    actor: str
    actor_kind: str
    actor_id: uuid.UUID | None
    role: str | None
    action: str
    entity: str
    entity_id: uuid.UUID
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: list[str]
    request_id: str | None
