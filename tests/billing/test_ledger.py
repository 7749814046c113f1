"""The ledger: customers, price plans and usage from events, each applied once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.billing.errors import CustomerNotMirrored
from services.billing.mirrors.customers import Customer
from services.billing.mirrors.repository import get_customer, set_stripe_customer_id
from services.billing.plans.models import OneOffFee, Plan
from services.billing.usage.models import UsageRow
from services.billing.usage.service import place
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import new_event
from tests.billing.conftest import (
    MONTHLY_FEE,
    ONE_OFF_FEE,
    make_customer,
    msk,
    quote_event,
    run_period,
    usage_event,
)


async def _count(model: type, **where: object) -> int:
    async with session_scope(STAFF) as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(await session.scalar(stmt) or 0)


class TestCustomers:
    async def test_tenant_created_makes_a_customer(self) -> None:
        customer = await make_customer(timezone="Asia/Yekaterinburg", tax_rate_bp=0)
        assert customer.timezone == "Asia/Yekaterinburg"
        assert customer.tax_rate_bp == 0
        assert customer.status == "active"
        assert customer.closed_through is None

    async def test_an_older_update_does_not_undo_a_newer_one(self, customer: Customer) -> None:
        newer = new_event(
            "tenant.updated",
            tenant_id=customer.id,
            payload={"tenant_id": str(customer.id), "tax_rate_bp": 2200, "changed": ["tax"]},
        )
        older = new_event(
            "tenant.updated",
            tenant_id=customer.id,
            payload={"tenant_id": str(customer.id), "tax_rate_bp": 1000, "changed": ["tax"]},
        )
        older = older.__class__(
            id=older.id,
            type=older.type,
            version=older.version,
            tenant_id=older.tenant_id,
            occurred_at=newer.occurred_at - timedelta(seconds=5),
            payload=older.payload,
        )
        await deliver("billing", newer)
        await deliver("billing", older)
        async with session_scope(STAFF) as session:
            row = await get_customer(session, customer.id)
        assert row is not None
        assert row.tax_rate_bp == 2200

    async def test_stripe_customer_id_is_remembered(self, customer: Customer) -> None:
        async with session_scope(STAFF) as session:
            row = await set_stripe_customer_id(session, customer.id, "cus_123")
        assert row.stripe_customer_id == "cus_123"

    async def test_usage_for_an_unknown_tenant_is_retried_later(self) -> None:
        event = usage_event(new_id(), new_id(), "attempt", 1, msk(2026, 11, 2))
        with pytest.raises(CustomerNotMirrored):
            await deliver("billing", event)


class TestPlans:
    async def test_quote_accepted_stores_the_plan_and_pending_one_off_fees(
        self, customer: Customer
    ) -> None:
        project_id = new_id()
        event = quote_event(customer.id, project_id, accepted_at=msk(2026, 10, 11))
        assert await deliver("billing", event) is True
        assert await deliver("billing", event) is False
        async with session_scope(STAFF) as session:
            plan = await session.scalar(select(Plan).where(Plan.tenant_id == customer.id))
            fees = (
                await session.scalars(select(OneOffFee).where(OneOffFee.tenant_id == customer.id))
            ).all()
        assert plan is not None
        assert plan.project_id == project_id
        assert [f["amount"] for f in plan.monthly_fees] == [MONTHLY_FEE]
        assert [r["code"] for r in plan.usage_rates] == ["attempt", "talk_minute"]
        assert [(f.amount, f.invoice_id) for f in fees] == [(ONE_OFF_FEE, None)]

    async def test_the_same_quote_in_another_event_is_not_stored_twice(
        self, customer: Customer
    ) -> None:
        project_id, quote_id = new_id(), new_id()
        for _ in range(2):
            event = quote_event(
                customer.id, project_id, accepted_at=msk(2026, 10, 11), quote_id=quote_id
            )
            await deliver("billing", event)
        assert await _count(Plan, tenant_id=customer.id) == 1
        assert await _count(OneOffFee, tenant_id=customer.id) == 1

    async def test_a_later_quote_supersedes_the_plan_even_when_it_arrives_first(
        self, customer: Customer
    ) -> None:
        project_id = new_id()
        later = quote_event(customer.id, project_id, accepted_at=msk(2026, 11, 20), one_off=())
        earlier = quote_event(customer.id, project_id, accepted_at=msk(2026, 11, 5), one_off=())
        await deliver("billing", later)
        await deliver("billing", earlier)
        async with session_scope(STAFF) as session:
            plans = (
                await session.scalars(
                    select(Plan).where(Plan.tenant_id == customer.id).order_by(Plan.starts_at)
                )
            ).all()
        assert [p.ends_at for p in plans] == [plans[1].starts_at, None]


class TestUsage:
    async def test_usage_is_applied_once_per_event_and_per_usage_id(
        self, customer: Customer
    ) -> None:
        project_id, usage_id = new_id(), new_id()
        event = usage_event(
            customer.id, project_id, "attempt", 3, msk(2026, 11, 2), usage_id=usage_id
        )
        await deliver("billing", event)
        await deliver("billing", event)
        again = usage_event(
            customer.id, project_id, "attempt", 3, msk(2026, 11, 2), usage_id=usage_id
        )
        await deliver("billing", again)
        async with session_scope(STAFF) as session:
            rows = (
                await session.scalars(select(UsageRow).where(UsageRow.tenant_id == customer.id))
            ).all()
        assert len(rows) == 1
        assert rows[0].quantity == Decimal(3)
        assert rows[0].period_start == date(2026, 11, 1)
        assert rows[0].late is False

    async def test_the_period_is_the_month_in_the_tenants_time_zone(self) -> None:
        # 2026-10-31 22:30 UTC is already 1 November in Moscow.
        at = msk(2026, 11, 1, 1) - timedelta(minutes=30)
        assert place(at, "Europe/Moscow", None).usage_month == date(2026, 11, 1)
        assert place(at, "UTC", None).usage_month == date(2026, 10, 1)

    async def test_usage_after_its_period_closed_goes_to_the_next_period_marked_late(
        self, customer: Customer
    ) -> None:
        project_id = new_id()
        await deliver(
            "billing",
            quote_event(customer.id, project_id, accepted_at=msk(2026, 9, 1, 0), one_off=()),
        )
        await run_period("2026-10", [customer.id])
        await deliver(
            "billing", usage_event(customer.id, project_id, "attempt", 10, msk(2026, 10, 30))
        )
        async with session_scope(STAFF) as session:
            row = await session.scalar(select(UsageRow).where(UsageRow.tenant_id == customer.id))
        assert row is not None
        assert (row.usage_month, row.period_start, row.late) == (
            date(2026, 10, 1),
            date(2026, 11, 1),
            True,
        )
        result = await run_period("2026-11", [customer.id])
        [invoice] = result.invoices
        async with session_scope(STAFF) as session:
            from services.billing.invoices.models import InvoiceLine

            lines = (
                await session.scalars(
                    select(InvoiceLine)
                    .where(InvoiceLine.tenant_id == customer.id)
                    .where(InvoiceLine.invoice_id == invoice.invoice_id)
                    .where(InvoiceLine.kind == "usage")
                )
            ).all()
        [line] = lines
        assert line.late is True
        assert line.amount == 10 * 1_200
        assert line.note is not None
        assert "октябрь 2026" in line.note
        assert "после закрытия" in line.note


class TestProjectClosed:
    async def test_a_closed_project_ends_its_plan_on_that_day(self, customer: Customer) -> None:
        project_id = new_id()
        await deliver("billing", quote_event(customer.id, project_id, accepted_at=msk(2026, 10, 1)))
        other = new_id()
        await deliver("billing", quote_event(customer.id, other, accepted_at=msk(2026, 10, 1)))
        closed = new_event(
            "project.updated",
            tenant_id=customer.id,
            payload={"project_id": project_id, "revision": 7, "status": "closed"},
        )
        assert await deliver("billing", closed) is True
        async with session_scope(STAFF) as session:
            plans = {
                p.project_id: p
                for p in await session.scalars(select(Plan).where(Plan.tenant_id == customer.id))
            }
        assert plans[project_id].ended_at == closed.occurred_at
        assert plans[other].ended_at is None
