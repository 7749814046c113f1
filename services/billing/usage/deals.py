"""Deals won per project and month (from ``lead.stage_changed``), for cost per deal.

A lead counts once, in the month (tenant's time zone) it first reached ``won``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import CustomerNotMirrored
from services.billing.invoices.money import month_start
from services.billing.usage import repository
from shared.ids import new_id

WON = "won"


async def record_won_deal(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    lead_id: uuid.UUID,
    project_id: uuid.UUID,
    won_at: datetime,
    deal_value: int | None,
    currency: str | None,
) -> bool:
    """Count the lead's deal once; ``False`` when it was already counted."""
    timezone = await repository.customer_timezone(session, tenant_id)
    if timezone is None:
        raise CustomerNotMirrored(f"tenant {tenant_id} is not a billing customer yet")
    moment = won_at if won_at.tzinfo else won_at.replace(tzinfo=UTC)
    return await repository.insert_won_deal(
        session,
        tenant_id=tenant_id,
        id=new_id(),
        lead_id=lead_id,
        project_id=project_id,
        won_at=moment,
        month=month_start(moment.astimezone(ZoneInfo(timezone)).date()),
        deal_value=deal_value,
        currency=currency,
    )
