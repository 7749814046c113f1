"""Every query on projects. Client callers are filtered to their own tenant here too
(row-level security already does it; this keeps a missing scope from widening a list)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.projects.models import Project, ProjectStatusChange
from shared.context import Ctx
from shared.http.pagination import PageParams, paginate

SelectT = TypeVar("SelectT", bound=Select)


def _visible(stmt: SelectT, ctx: Ctx) -> SelectT:
    if ctx.is_staff:
        return stmt
    return stmt.where(Project.tenant_id == ctx.tenant_id)


async def get(
    session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, *, for_update: bool = False
) -> Project | None:
    stmt = _visible(select(Project).where(Project.id == project_id), ctx)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_with_currency(
    session: AsyncSession, ctx: Ctx, project_id: uuid.UUID
) -> tuple[Project, str] | None:
    """The project and its tenant's currency in one query (the planner's first read)."""
    stmt = _visible(
        select(Project, TenantMirror.currency)
        .join(TenantMirror, TenantMirror.id == Project.tenant_id)
        .where(Project.id == project_id),
        ctx,
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], row[1])


async def list_page(
    session: AsyncSession,
    ctx: Ctx,
    *,
    params: PageParams,
    tenant_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> tuple[list[Project], str | None]:
    stmt = _visible(select(Project), ctx)
    if tenant_id is not None:
        stmt = stmt.where(Project.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    if kind is not None:
        stmt = stmt.where(Project.kind == kind)
    return await paginate(session, stmt, order_by=(Project.created_at, Project.id), params=params)


def add(session: AsyncSession, project: Project) -> None:
    session.add(project)


def add_status_change(session: AsyncSession, change: ProjectStatusChange) -> None:
    session.add(change)


async def status_history(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> list[ProjectStatusChange]:
    rows = await session.scalars(
        select(ProjectStatusChange)
        .where(
            ProjectStatusChange.tenant_id == tenant_id,
            ProjectStatusChange.project_id == project_id,
        )
        .order_by(ProjectStatusChange.created_at, ProjectStatusChange.id)
    )
    return list(rows)
