"""Recording usage: attributed to tenant, project and period, applied once.

The period is the calendar month of ``recorded_at`` in the tenant's time zone. The
customer row is read ``FOR SHARE``: a billing run closing a period updates that row
(``closed_through``), so a usage row either commits before the run reads usage or
waits and sees the period closed. Usage for a closed month goes to the next open
period with ``late = true``; nothing is dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import CustomerNotMirrored
from services.billing.invoices.money import month_start, next_month
from services.billing.usage import repository
from services.billing.usage.models import UsageRow
from shared.ids import new_id


@dataclass(frozen=True, slots=True)
class Placement:
    usage_month: date
    period_start: date
    late: bool


def place(recorded_at: datetime, timezone: str, closed_through: date | None) -> Placement:
    """Which period bills usage recorded at ``recorded_at`` (pure)."""
    moment = recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC)
    month = month_start(moment.astimezone(ZoneInfo(timezone)).date())
    if closed_through is None or month > closed_through:
        return Placement(month, month, False)
    return Placement(month, next_month(closed_through), True)


async def record_usage(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    usage_id: uuid.UUID,
    project_id: uuid.UUID,
    metric: str,
    quantity: Decimal,
    recorded_at: datetime,
    source_id: uuid.UUID | None = None,
) -> UsageRow | None:
    """Store one usage fact; ``None`` when this ``usage_id`` was already recorded."""
    if not quantity.is_finite() or quantity < 0:
        raise ValueError("usage quantity must be a finite, non-negative number")
    facts = await repository.placement_facts(session, tenant_id)
    if facts is None:
        raise CustomerNotMirrored(f"tenant {tenant_id} is not a billing customer yet")
    timezone, closed_through = facts
    placement = place(recorded_at, timezone, closed_through)
    inserted = await repository.insert_usage(
        session,
        tenant_id=tenant_id,
        id=new_id(),
        usage_id=usage_id,
        project_id=project_id,
        metric=metric,
        quantity=quantity,
        recorded_at=recorded_at,
        usage_month=placement.usage_month,
        period_start=placement.period_start,
        late=placement.late,
        source_id=source_id,
    )
    if inserted is None:
        return None
    return await repository.get_usage(session, tenant_id, inserted)
