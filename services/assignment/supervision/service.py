"""Supervision: per-project queue figures and today's speed to lead (computed in SQL,
:mod:`.repository`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.supervision import repository
from services.assignment.supervision.schemas import QueueStats


def _service_level(row: Any) -> float | None:
    decided = int(row.new_leads) - int(row.undecided or 0)
    if decided <= 0:
        return None
    return round(int(row.in_target or 0) / decided, 4)


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


class SupervisionService:
    async def queues(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> list[QueueStats]:
        now = now or datetime.now(UTC)
        since = now.replace(hour=0, minute=0, second=0, microsecond=0)
        rows = await repository.queues(
            session, since=since, tenant_id=tenant_id, project_id=project_id
        )
        return [
            QueueStats(
                tenant_id=row.tenant_id,
                project_id=row.project_id,
                name=row.name,
                status=row.status,
                waiting_now=int(row.waiting_now),
                due_later=int(row.due_later),
                oldest_waiting_seconds=_seconds(row.oldest_waiting_seconds),
                in_progress=int(row.in_progress),
                operators_available=int(row.available),
                operators_on_task=int(row.on_task),
                speed_to_lead_target_seconds=int(row.speed_to_lead_seconds),
                new_leads_today=int(row.new_leads),
                speed_to_lead_p50_seconds=_seconds(row.p50),
                speed_to_lead_p90_seconds=_seconds(row.p90),
                service_level=_service_level(row),
            )
            for row in rows
        ]


supervision = SupervisionService()
