"""Every query of the onboarding service.

Row-level security already binds a client's session to its own tenant; the
statements here filter by tenant as well, so a query never depends on RLS alone
and a reader sees the rule next to the query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.models import ApiKey, Tenant, TenantStatusChange, User
from shared.context import Ctx


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


class UserRepository:
    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
    ) -> User | None:
        stmt = select(User).where(User.id == user_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await session.scalar(stmt)

    async def by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email == email.lower()))

    def readable(
        self,
        ctx: Ctx,
        *,
        tenant_id: uuid.UUID | None = None,
        role: str | None = None,
        status: str | None = None,
    ) -> Select[User]:
        stmt = select(User)
        if not ctx.is_staff:
            stmt = stmt.where(User.tenant_id == ctx.tenant_id)
        if tenant_id is not None:
            stmt = stmt.where(User.tenant_id == tenant_id)
        if role is not None:
            stmt = stmt.where(User.role == role)
        if status is not None:
            stmt = stmt.where(User.status == status)
        return stmt

    async def add(self, session: AsyncSession, user: User) -> None:
        session.add(user)
        await session.flush()


class ApiKeyRepository:
    async def get(
        self, session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID
    ) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
        return await session.scalar(stmt.with_for_update())

    def of_tenant(self, tenant_id: uuid.UUID) -> Select[ApiKey]:
        return select(ApiKey).where(ApiKey.tenant_id == tenant_id)

    async def active_named(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str
    ) -> Sequence[ApiKey]:
        stmt = self.of_tenant(tenant_id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
        return (await session.scalars(stmt.with_for_update())).all()

    async def revoke(self, session: AsyncSession, key: ApiKey) -> None:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.tenant_id == key.tenant_id, ApiKey.id == key.id)
            .values(revoked_at=func.now())
        )
        await session.refresh(key)

    async def exists_hash(self, session: AsyncSession, key_hash: str) -> bool:
        return bool(await session.scalar(select(exists().where(ApiKey.key_hash == key_hash))))

    async def add(self, session: AsyncSession, key: ApiKey) -> None:
        session.add(key)
        await session.flush()


tenant_repo = TenantRepository()
user_repo = UserRepository()
api_key_repo = ApiKeyRepository()
