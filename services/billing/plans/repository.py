"""Every query billing runs on price plans and their one-off fees."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.plans.models import OneOffFee, Plan

_RESUPERSEDE = text(
    """
    UPDATE billing.plans p SET superseded_at = n.next_start
    FROM (
        SELECT id, lead(starts_at) OVER (ORDER BY starts_at, id) AS next_start
        FROM billing.plans WHERE tenant_id = :tenant_id AND project_id = :project_id
    ) n
    WHERE p.tenant_id = :tenant_id AND p.id = n.id
      AND p.superseded_at IS DISTINCT FROM n.next_start
    """
)
_END_PROJECT = text(
    "UPDATE billing.plans SET ended_at = :at WHERE tenant_id = :tenant_id"
    " AND project_id = :project_id AND ended_at IS NULL AND starts_at < :at"
)
_END_ALL = text(
    "UPDATE billing.plans SET ended_at = :at "
    "WHERE tenant_id = :tenant_id AND ended_at IS NULL AND starts_at < :at"
)


async def insert_plan(session: AsyncSession, **values: Any) -> bool:
    """Store a plan unless its quote already has one (unique per quote); whether it was."""
    inserted = await session.scalar(
        insert(Plan)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "quote_id"])
        .returning(Plan.id)
    )
    return inserted is not None


async def insert_fees(session: AsyncSession, fees: list[dict[str, Any]]) -> None:
    """One-off fees (column → value each), in one statement."""
    await session.execute(insert(OneOffFee), fees)


async def resupersede(session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID) -> None:
    """End each of the project's plans where the next (by start) begins."""
    await session.execute(_RESUPERSEDE, {"tenant_id": tenant_id, "project_id": project_id})


async def get_plan(session: AsyncSession, tenant_id: uuid.UUID, plan_id: uuid.UUID) -> Plan | None:
    return await session.get(Plan, (tenant_id, plan_id), populate_existing=True)


async def end_all(session: AsyncSession, tenant_id: uuid.UUID, at: datetime) -> int:
    """End the tenant's open plans that started before ``at``; how many."""
    result = await session.execute(_END_ALL, {"tenant_id": tenant_id, "at": at})
    return int(getattr(result, "rowcount", 0) or 0)


async def end_project(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID, at: datetime
) -> int:
    """End the project's open plans that started before ``at``; how many."""
    result = await session.execute(
        _END_PROJECT, {"tenant_id": tenant_id, "project_id": project_id, "at": at}
    )
    return int(getattr(result, "rowcount", 0) or 0)
