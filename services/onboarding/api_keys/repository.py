"""Every query of API keys; each filters by the key's tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.api_keys.models import ApiKey


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


api_key_repo = ApiKeyRepository()
