"""Every query of supervision: per-project queue figures and today's speed to lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_QUEUES = text(
    """
    WITH t AS (
        SELECT tenant_id, project_id,
               count(*) FILTER (WHERE status = 'queued' AND next_allowed_at <= now()
                                  AND window_closes_at > now()) AS waiting_now,
               count(*) FILTER (WHERE status = 'queued' AND NOT coalesce(
                                  next_allowed_at <= now() AND window_closes_at > now(), false))
                   AS due_later,
               min(next_allowed_at) FILTER (WHERE status = 'queued' AND next_allowed_at <= now()
                                  AND window_closes_at > now()) AS oldest_since,
               count(*) FILTER (WHERE status = 'leased') AS in_progress
          FROM assignment.tasks
         WHERE status IN ('queued', 'leased')
         GROUP BY tenant_id, project_id
    ), s AS (
        SELECT l.tenant_id, l.project_id, count(*) AS new_leads,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM l.first_attempt_at - l.received_at))
                   FILTER (WHERE l.first_attempt_at IS NOT NULL) AS p50,
               percentile_cont(0.9) WITHIN GROUP (
                   ORDER BY extract(epoch FROM l.first_attempt_at - l.received_at))
                   FILTER (WHERE l.first_attempt_at IS NOT NULL) AS p90,
               count(*) FILTER (WHERE l.first_attempt_at IS NOT NULL
                   AND l.first_attempt_at - l.received_at
                       <= make_interval(secs => p.speed_to_lead_seconds)) AS in_target,
               count(*) FILTER (WHERE l.first_attempt_at IS NULL
                   AND now() - l.received_at
                       <= make_interval(secs => p.speed_to_lead_seconds)) AS undecided
          FROM assignment.leads l
          JOIN assignment.projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
         WHERE l.received_at >= :since
         GROUP BY l.tenant_id, l.project_id
    )
    SELECT p.tenant_id, p.id AS project_id, p.name, p.status, p.speed_to_lead_seconds,
           coalesce(t.waiting_now, 0) AS waiting_now, coalesce(t.due_later, 0) AS due_later,
           extract(epoch FROM now() - t.oldest_since) AS oldest_waiting_seconds,
           coalesce(t.in_progress, 0) AS in_progress,
           coalesce(s.new_leads, 0) AS new_leads, s.p50, s.p90, s.in_target, s.undecided,
           o.available, o.on_task
      FROM assignment.projects p
      LEFT JOIN t ON t.tenant_id = p.tenant_id AND t.project_id = p.id
      LEFT JOIN s ON s.tenant_id = p.tenant_id AND s.project_id = p.id
     CROSS JOIN LATERAL (
           SELECT count(*) FILTER (WHERE o.state = 'available') AS available,
                  count(*) FILTER (WHERE o.state = 'on_task') AS on_task
             FROM assignment.operators o
            WHERE o.status = 'active' AND o.skills @> p.required_skills
              AND (cardinality(o.project_ids) = 0 OR p.id = ANY(o.project_ids))) o
     WHERE (CAST(:tenant_id AS uuid) IS NULL OR p.tenant_id = CAST(:tenant_id AS uuid))
       AND (CAST(:project_id AS uuid) IS NULL OR p.id = CAST(:project_id AS uuid))
     ORDER BY p.tenant_id, p.id
    """
)


async def queues(
    session: AsyncSession,
    *,
    since: datetime,
    tenant_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
) -> list[Any]:
    """One row per project (of one tenant or project when named): its queue now, the
    operators who may work it, and the speed to lead of leads received since ``since``."""
    result = await session.execute(
        _QUEUES, {"since": since, "tenant_id": tenant_id, "project_id": project_id}
    )
    return list(result)
