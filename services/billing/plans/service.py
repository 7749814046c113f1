"""Price plans from ``quote.accepted``; plans end when the tenant closes.

The event's ``price_plan`` (the typed :class:`~shared.messaging.events.PricePlan`)
carries ``one_off_fees`` and ``monthly_fees`` (each with its net ``amount``) and
``usage_rates`` (``code``, ``unit_price``, ``discount_pct``). Usage is matched to a
rate by ``metric == code``. Applying the same quote twice changes nothing (unique
per quote); quotes arriving out of order still end each plan where the next begins.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.plans import repository
from services.billing.plans.models import Plan
from shared.ids import new_id
from shared.messaging.events import PlanFee, PlanUsageRate, QuoteAcceptedV1


def _fee(fee: PlanFee) -> dict[str, Any]:
    return {
        "code": fee.code or "",
        "name": fee.name or fee.code or "",
        "unit": fee.unit,
        "quantity": str(fee.quantity),
        "unit_price": fee.unit_price,
        "amount": fee.amount,
    }


def _rate(rate: PlanUsageRate) -> dict[str, Any]:
    return {
        "code": rate.code or "",
        "name": rate.name or rate.code or "",
        "unit": rate.unit,
        "unit_price": rate.unit_price,
        "discount_pct": str(rate.discount_pct),
    }


def plan_parts(payload: QuoteAcceptedV1) -> dict[str, list[dict[str, Any]]]:
    """One-off fees, monthly fees and usage rates of an accepted quote, as billing stores
    them (JSON-ready rows of the plan)."""
    plan = payload.price_plan
    return {
        "one_off_fees": [_fee(x) for x in plan.one_off_fees],
        "monthly_fees": [_fee(x) for x in plan.monthly_fees],
        "usage_rates": [_rate(x) for x in plan.usage_rates],
    }


async def apply_quote_accepted(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    payload: QuoteAcceptedV1,
    occurred_at: datetime,
) -> Plan | None:
    """Store the project's plan and its pending one-off fees; ``None`` if already stored."""
    parts = plan_parts(payload)
    starts_at = payload.accepted_at or occurred_at
    plan_id = new_id()
    inserted = await repository.insert_plan(
        session,
        tenant_id=tenant_id,
        id=plan_id,
        project_id=payload.project_id,
        quote_id=payload.quote_id,
        quote_version=payload.quote_version,
        currency=payload.currency,
        tax_rate_bp=payload.tax_rate_bp,
        monthly_fees=parts["monthly_fees"],
        usage_rates=parts["usage_rates"],
        one_off_fees=parts["one_off_fees"],
        starts_at=starts_at,
    )
    if not inserted:
        return None
    fees = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "plan_id": plan_id,
            "project_id": payload.project_id,
            "position": i + 1,
            "code": fee["code"],
            "name": fee["name"],
            "unit": fee["unit"],
            "quantity": Decimal(fee["quantity"]),
            "unit_price": fee["unit_price"],
            "amount": fee["amount"],
            "accrued_at": starts_at,
        }
        for i, fee in enumerate(parts["one_off_fees"])
        if fee["amount"] > 0
    ]
    if fees:
        await repository.insert_fees(session, fees)
    await repository.resupersede(session, tenant_id, payload.project_id)
    return await repository.get_plan(session, tenant_id, plan_id)


async def end_plans(session: AsyncSession, *, tenant_id: uuid.UUID, at: datetime) -> int:
    """The tenant closed at ``at``: its plans stop (monthly fees are pro-rated to that day)."""
    return await repository.end_all(session, tenant_id, at)


async def end_project_plans(
    session: AsyncSession, *, tenant_id: uuid.UUID, project_id: uuid.UUID, at: datetime
) -> int:
    """The project closed at ``at``: its plans stop (monthly fees are pro-rated to that day)."""
    return await repository.end_project(session, tenant_id, project_id, at)
