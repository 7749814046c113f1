"""Every query of the planner's funnel history (``pricing.funnel_leads``), one row per lead."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.planner.history import RECEIVED, Funnel

_RECORD = text(
    """
    INSERT INTO pricing.funnel_leads
        (tenant_id, lead_id, project_id, reached, attempts, talk_seconds)
    VALUES (:tenant_id, :lead_id, :project_id, :reached, :attempts, :talk_seconds)
    ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
        reached = greatest(pricing.funnel_leads.reached, excluded.reached),
        attempts = pricing.funnel_leads.attempts + excluded.attempts,
        talk_seconds = pricing.funnel_leads.talk_seconds + excluded.talk_seconds,
        updated_at = now()
    """
)

_FUNNEL = text(
    "SELECT count(*), count(*) FILTER (WHERE reached >= 1),"
    " count(*) FILTER (WHERE reached >= 2), count(*) FILTER (WHERE reached >= 3),"
    " coalesce(sum(attempts), 0), coalesce(sum(talk_seconds), 0)"
    " FROM pricing.funnel_leads WHERE tenant_id = :t AND project_id = :p"
)


async def record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    lead_id: uuid.UUID,
    project_id: uuid.UUID,
    reached: int = RECEIVED,
    attempts: int = 0,
    talk_seconds: int = 0,
) -> None:
    """Raise the lead's step to ``reached`` and add calls (one fact, applied once)."""
    await session.execute(
        _RECORD,
        {
            "tenant_id": tenant_id,
            "lead_id": lead_id,
            "project_id": project_id,
            "reached": reached,
            "attempts": attempts,
            "talk_seconds": talk_seconds,
        },
    )


async def funnel_of(session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID) -> Funnel:
    """The project's funnel: leads, how many reached each step, calls and talk time."""
    row = (await session.execute(_FUNNEL, {"t": tenant_id, "p": project_id})).one()
    return Funnel(*(int(v) for v in row))
