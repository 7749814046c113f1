"""Intake's mirror of tenants (``intake.tenants``): their status.

Filled by ``tenant.created`` / ``tenant.status_changed`` (``tenant.updated`` carries
no status and changes nothing here). Events may come late or twice: a status is
applied only when its event is newer than the one the row holds (``status_at``).
(A tenant's API-key rate limit is onboarding's, read with the key: see
:mod:`shared.auth.standing`.)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.mirrors import repository
from shared.db.base import Base
from shared.db.placement import Placement, placed
from shared.mirrors.tenants import TENANT_STATUSES

CACHE_SECONDS = 2.0


class TenantMirror(Base):
    __tablename__ = "tenants"
    __table_args__ = {"schema": "intake", "info": placed(Placement.REFERENCE)}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    status_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


@dataclass(frozen=True, slots=True)
class TenantFacts:
    status: str


_cache: dict[uuid.UUID, tuple[float, TenantFacts | None]] = {}
_refreshing: set[uuid.UUID] = set()
"""Tenants whose facts one request is re-reading now; the others meanwhile take the
expired facts (at most one read per tenant per :data:`CACHE_SECONDS` per process,
instead of one per concurrent request when the entry expires)."""


def forget_tenant(tenant_id: uuid.UUID | None = None) -> None:
    """Drop cached facts (one tenant, or all)."""
    if tenant_id is None:
        _cache.clear()
    else:
        _cache.pop(tenant_id, None)


async def apply_tenant_status(
    session: AsyncSession, tenant_id: uuid.UUID, status: str, at: datetime
) -> None:
    """Record ``status`` for the tenant unless a newer status is already held."""
    if status not in TENANT_STATUSES:
        return
    await repository.upsert_tenant_status(session, tenant_id, status, at)
    forget_tenant(tenant_id)


async def tenant_facts(session: AsyncSession, tenant_id: uuid.UUID) -> TenantFacts | None:
    """The tenant's status (cached in-process for a couple of seconds)."""
    now = time.monotonic()
    cached = _cache.get(tenant_id)
    if cached is not None and (cached[0] > now or tenant_id in _refreshing):
        return cached[1]
    _refreshing.add(tenant_id)
    try:
        row = await repository.tenant_row(session, tenant_id)
    finally:
        _refreshing.discard(tenant_id)
    facts = None if row is None else TenantFacts(row.status)
    _cache[tenant_id] = (time.monotonic() + CACHE_SECONDS, facts)
    return facts
