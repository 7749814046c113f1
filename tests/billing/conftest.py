"""Shared fixtures of the billing ledger tests.

Events reach billing the way the workers deliver them (``deliver("billing", envelope)``:
inbox row and handler in one transaction), so a test can deliver one twice.

- ``customer``: a fresh billing customer (from a ``tenant.created`` event).
- ``accept_quote`` / ``record_usage``: deliver ``quote.accepted`` / ``usage.recorded``.
- ``app``: the billing app (``api_client(role=..., tenant_id=...)`` makes clients on it).
- ``run_period``: a billing run for some tenants only, committed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar

from services.billing.mirrors.customers import Customer
from services.billing.mirrors.repository import get_customer
from services.billing.runs.schemas import BillingRun
from services.billing.runs.service import billing_runs, parse_period
from shared.context import SYSTEM
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, new_event

MOSCOW = ZoneInfo("Europe/Moscow")
MONTHLY_FEE = 1_250_000
ONE_OFF_FEE = 6_260_000
ATTEMPT_PRICE = 1_200
MINUTE_PRICE = 900


async def make_customer(
    *, timezone: str = "Europe/Moscow", tax_rate_bp: int = 2000, currency: str = "RUB"
) -> Customer:
    tenant_id = new_id()
    event = new_event(
        "tenant.created",
        tenant_id=tenant_id,
        payload={
            "tenant_id": str(tenant_id),
            "slug": f"t-{tenant_id.hex[:8]}",
            "status": "active",
            "currency": currency,
            "timezone": timezone,
            "tax_rate_bp": tax_rate_bp,
            "name": f"Tenant {tenant_id.hex[:8]}",
            "legal_name": "ООО «Ромашка»",  # noqa: RUF001
            "inn": "".join(random.choice("0123456789") for _ in range(10)),
            "billing_email": "billing@example.test",
        },
    )
    await deliver("billing", event)
    async with session_scope(STAFF) as session:
        customer = await get_customer(session, tenant_id)
    assert customer is not None
    return customer


def quote_event(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    accepted_at: datetime,
    monthly: Sequence[tuple[str, str, int]] = (("monthly_fee", "Абонентская плата", MONTHLY_FEE),),
    one_off: Sequence[tuple[str, str, int]] = (
        ("project_setup", "Настройка проекта", ONE_OFF_FEE),
    ),
    rates: Sequence[tuple[str, str, str, int]] = (
        ("attempt", "Попытка дозвона", "attempt", ATTEMPT_PRICE),
        ("talk_minute", "Минута разговора", "minute", MINUTE_PRICE),
    ),
    quote_id: uuid.UUID | None = None,
) -> Envelope:
    def fee(code: str, name: str, amount: int, unit: str) -> dict[str, Any]:
        return {
            "code": code,
            "name": name,
            "unit": unit,
            "quantity": "1",
            "unit_price": amount,
            "discount_pct": "0",
            "amount": amount,
        }

    quote_id = quote_id or new_id()
    one_off_net = sum(a for _, _, a in one_off)
    monthly_net = sum(a for _, _, a in monthly)
    plan = {
        "quote_id": str(quote_id),
        "quote_version": 1,
        "currency": "RUB",
        "tax_rate_bp": 2000,
        "one_off_fees": [fee(c, n, a, "piece") for c, n, a in one_off],
        "one_off_net": one_off_net,
        "one_off_tax": one_off_net // 5,
        "one_off_total": one_off_net + one_off_net // 5,
        "monthly_fees": [fee(c, n, a, "month") for c, n, a in monthly],
        "monthly_net": monthly_net,
        "monthly_tax": monthly_net // 5,
        "monthly_total": monthly_net + monthly_net // 5,
        "usage_rates": [
            {
                "code": c,
                "name": n,
                "unit": u,
                "unit_price": p,
                "discount_pct": "0",
                "expected_quantity": "100",
            }
            for c, n, u, p in rates
        ],
        "usage_estimate_net": 0,
        "accepted_at": accepted_at.isoformat(),
    }
    return new_event(
        "quote.accepted",
        tenant_id=tenant_id,
        payload={
            "quote_id": str(quote_id),
            "project_id": str(project_id),
            "quote_version": 1,
            "currency": "RUB",
            "tax_rate_bp": 2000,
            "price_plan": plan,
            "accepted_at": accepted_at.isoformat(),
        },
    )


def usage_event(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    metric: str,
    quantity: Decimal | int | str,
    recorded_at: datetime,
    *,
    usage_id: uuid.UUID | None = None,
) -> Envelope:
    return new_event(
        "usage.recorded",
        tenant_id=tenant_id,
        payload={
            "usage_id": str(usage_id or new_id()),
            "project_id": str(project_id),
            "metric": metric,
            "quantity": str(quantity),
            "recorded_at": recorded_at.isoformat(),
        },
    )


async def run_period(
    period: str, tenant_ids: Sequence[uuid.UUID], *, preview: bool = False
) -> BillingRun:
    async with session_scope(STAFF) as session:
        return await billing_runs.run(
            session, SYSTEM, period=parse_period(period), tenant_ids=tenant_ids, preview=preview
        )


def msk(year: int, month: int, day: int, hour: int = 12) -> datetime:
    """A Moscow wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, tzinfo=MOSCOW)


@pytest.fixture
async def customer() -> Customer:
    return await make_customer()


@pytest.fixture(scope="session")
def app() -> Litestar:
    from services.billing.app import create_app

    return create_app()


# Handlers must be registered before any test delivers an event.
import services.billing.actors  # noqa: E402, F401
