"""Every query intake runs on its tenant and project mirrors (``intake.tenants``,
``intake.projects``). An upsert applies only what is newer than the row holds."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

_UPSERT_TENANT = text(
    """
    INSERT INTO intake.tenants (id, status, status_at)
    VALUES (:id, :status, :at)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_at = excluded.status_at,
        updated_at = now()
    WHERE intake.tenants.status_at < excluded.status_at
    """
)
_TENANT = text("SELECT status FROM intake.tenants WHERE id = :id")
_UPSERT_PROJECT = text(
    """
    INSERT INTO intake.projects (tenant_id, id, status, settings, settings_version)
    VALUES (:tenant_id, :id, :status, CAST(:settings AS jsonb), :version)
    ON CONFLICT (tenant_id, id) DO UPDATE SET status = excluded.status,
        settings = excluded.settings, settings_version = excluded.settings_version,
        updated_at = now()
    WHERE intake.projects.settings_version < excluded.settings_version
    """
)
_PROJECT = text(
    "SELECT status, settings FROM intake.projects WHERE tenant_id = :tenant_id AND id = :id"
)
_PROJECT_OWNER = text("SELECT tenant_id FROM intake.projects WHERE id = :id")


async def upsert_tenant_status(
    session: AsyncSession, tenant_id: uuid.UUID, status: str, at: datetime
) -> None:
    """The tenant's status as of ``at``, unless the row holds a later one."""
    await session.execute(_UPSERT_TENANT, {"id": tenant_id, "status": status, "at": at})


async def tenant_row(session: AsyncSession, tenant_id: uuid.UUID) -> Row[Any] | None:
    """(status,) of the tenant, or ``None``."""
    return (await session.execute(_TENANT, {"id": tenant_id})).one_or_none()


async def upsert_project(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    status: str,
    settings_json: str,
    version: int,
) -> None:
    """The project's status and lead settings at ``version``, unless the row holds a later one."""
    await session.execute(
        _UPSERT_PROJECT,
        {
            "tenant_id": tenant_id,
            "id": project_id,
            "status": status,
            "settings": settings_json,
            "version": version,
        },
    )


async def project_row(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> Row[Any] | None:
    """(status, settings) of the tenant's project, or ``None``."""
    return (
        await session.execute(_PROJECT, {"tenant_id": tenant_id, "id": project_id})
    ).one_or_none()


async def project_owner(session: AsyncSession, project_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant whose project this is (staff scope sees every tenant's)."""
    owner: uuid.UUID | None = await session.scalar(_PROJECT_OWNER, {"id": project_id})
    return owner
