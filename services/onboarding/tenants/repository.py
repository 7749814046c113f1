"""Every query of tenants and their lifecycle log.

Row-level security already binds a client's session to its own tenant; the
statements here filter by tenant as well, so a query never depends on RLS alone
and a reader sees the rule next to the query.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.tenants.models import Tenant, TenantStatusChange
from shared.context import Ctx
from shared.db.unique import unique_violation


class TenantRepository:
    async def get(
        self, session: AsyncSession, tenant_id: uuid.UUID, *, for_update: bool = False
    ) -> Tenant | None:
        stmt = select(Tenant).where(Tenant.id == tenant_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await session.scalar(stmt)

    async def by_inn(self, session: AsyncSession, inn: str) -> Tenant | None:
        return await session.scalar(select(Tenant).where(Tenant.inn == inn))

    async def by_slug(self, session: AsyncSession, slug: str) -> Tenant | None:
        return await session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def slugs_like(self, session: AsyncSession, base: str) -> set[str]:
        """``base`` and every ``base-<n>`` already taken."""
        stmt = select(Tenant.slug).where(
            (Tenant.slug == base) | Tenant.slug.like(base.replace("_", r"\_") + "-%")
        )
        return set((await session.scalars(stmt)).all())

    def readable(self, ctx: Ctx, *, status: str | None = None) -> Select[Tenant]:
        stmt = select(Tenant)
        if not ctx.is_staff:
            stmt = stmt.where(Tenant.id == ctx.tenant_id)
        if status is not None:
            stmt = stmt.where(Tenant.status == status)
        return stmt

    def status_changes(self, tenant_id: uuid.UUID) -> Select[TenantStatusChange]:
        return select(TenantStatusChange).where(TenantStatusChange.tenant_id == tenant_id)

    async def add(self, session: AsyncSession, obj: Tenant | TenantStatusChange) -> None:
        session.add(obj)
        await session.flush()

    async def insert(self, session: AsyncSession, tenant: Tenant) -> str | None:
        """Add and flush ``tenant``; the unique constraint a concurrent writer won
        (INN or slug), or ``None``. The transaction stays usable either way."""
        return await unique_violation(session, tenant)

    async def save(self, session: AsyncSession) -> str | None:
        """Flush pending changes; the unique constraint they broke, or ``None``."""
        return await unique_violation(session)


tenant_repo = TenantRepository()
