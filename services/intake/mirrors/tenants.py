"""Intake's mirror of tenants (``intake.tenants``): status and the API rate limit.

Filled by ``tenant.created`` / ``tenant.status_changed`` (``tenant.updated`` carries
no status and changes nothing here). Events may come late or twice: a status is
applied only when its event is newer than the one the row holds (``status_at``).
``rate_per_second`` / ``rate_burst`` are the tenant's API-key rate limit; ``NULL``
means the platform default.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Text, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.mirrors import repository
from shared.db.base import Base
from shared.db.placement import Placement, placed
from shared.db.session import TenantScope, session_scope
from shared.http.ratelimit import DEFAULT_LIMIT, RateLimit
from shared.mirrors.tenants import TENANT_STATUSES

CACHE_SECONDS = 2.0


class TenantMirror(Base):
    __tablename__ = "tenants"
    __table_args__ = {"schema": "intake", "info": placed(Placement.REFERENCE)}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    status_at: Mapped[datetime]
    rate_per_second: Mapped[int | None] = mapped_column(Integer)
    rate_burst: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


@dataclass(frozen=True, slots=True)
class TenantFacts:
    status: str
    rate_per_second: int | None
    rate_burst: int | None


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


async def set_rate_limit(
    session: AsyncSession, tenant_id: uuid.UUID, per_second: int | None, burst: int | None
) -> None:
    """Set (or with ``None`` reset to the default) the tenant's API-key rate limit."""
    await repository.set_rate_limit(session, tenant_id, per_second, burst)
    forget_tenant(tenant_id)


async def tenant_facts(session: AsyncSession, tenant_id: uuid.UUID) -> TenantFacts | None:
    """The tenant's status and limits (cached in-process for a couple of seconds)."""
    now = time.monotonic()
    cached = _cache.get(tenant_id)
    if cached is not None and (cached[0] > now or tenant_id in _refreshing):
        return cached[1]
    _refreshing.add(tenant_id)
    try:
        row = await repository.tenant_row(session, tenant_id)
    finally:
        _refreshing.discard(tenant_id)
    facts = None if row is None else TenantFacts(row.status, row.rate_per_second, row.rate_burst)
    _cache[tenant_id] = (time.monotonic() + CACHE_SECONDS, facts)
    return facts


async def limit_for(tenant_id: uuid.UUID) -> RateLimit:
    """The tenant's API-key rate limit (its own, or the platform default)."""
    cached = _cache.get(tenant_id)
    if cached is None or (cached[0] <= time.monotonic() and tenant_id not in _refreshing):
        async with session_scope(TenantScope(tenant_id)) as session:
            await tenant_facts(session, tenant_id)
        cached = _cache.get(tenant_id)
    facts = cached[1] if cached else None
    if facts is None or (facts.rate_per_second is None and facts.rate_burst is None):
        return DEFAULT_LIMIT
    per_second = facts.rate_per_second or DEFAULT_LIMIT.per_second
    return RateLimit(per_second=per_second, burst=facts.rate_burst or max(1, int(per_second * 2)))
