# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""Billing runs: one invoice per tenant and period, pro-rating, tax, numbering, preview."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select, text

from services.billing.invoices.models import Invoice, InvoiceLine
from services.billing.mirrors.customers import Customer
from services.billing.mirrors.repository import get_customer
from services.billing.plans.models import OneOffFee
from services.billing.runs.service import billing_runs, parse_period, previous_period
from shared.context import SYSTEM, Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import new_event
from shared.messaging.outbox import OUTBOX
from shared.scheduling.registry import _REGISTRY
from tests.billing.conftest import (
    MONTHLY_FEE,
    ONE_OFF_FEE,
    make_customer,
    msk,
    quote_event,
    run_period,
    usage_event,
)
from tests.support.clients import ApiClient

NUMBER = re.compile(r"^KK-\d{4}-\d{6}$")


async def _invoices_of(tenant_id: uuid.UUID) -> list[Invoice]:
    async with session_scope(STAFF) as session:
        return list(
            (
                await session.scalars(
                    select(Invoice)
                    .where(Invoice.tenant_id == tenant_id)
                    .order_by(Invoice.period_start)
                )
            ).all()
        )


async def _lines_of(invoice_id: uuid.UUID) -> list[InvoiceLine]:
    async with session_scope(STAFF) as session:
        return list(
            (
                await session.scalars(
                    select(InvoiceLine)
                    .where(InvoiceLine.invoice_id == invoice_id)
                    .order_by(InvoiceLine.position)
                )
            ).all()
        )


async def _billed_customer(accepted_day: int = 11) -> tuple[Customer, uuid.UUID]:
    """A customer whose project's quote was accepted on 2026-10-<day> (Moscow), with
    October usage: 100 call attempts, 12.5 talk minutes, 2 won deals (no rate)."""
    customer = await make_customer()
    project_id = new_id()
    await deliver(
        "billing", quote_event(customer.id, project_id, accepted_at=msk(2026, 10, accepted_day))
    )
    for metric, quantity, day in (
        ("attempt", 60, 20),
        ("attempt", 40, 31),
        ("talk_minute", "12.5", 25),
        ("won_deal", 2, 28),
    ):
        event = usage_event(customer.id, project_id, metric, quantity, msk(2026, 10, day))
        await deliver("billing", event)
    return customer, project_id


class TestRun:
    async def test_run_issues_one_invoice_with_one_off_monthly_usage_and_tax(
        self, api_client: ApiClient
    ) -> None:
        customer, _ = await _billed_customer()
        manager = api_client(role=Role.ACCOUNT_MANAGER)

        r = await manager.post(
            "/v1/billing/runs", json={"period": "2026-10", "tenant_ids": [str(customer.id)]}
        )

        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["invoices_issued"], body["tenants_closed"], body["preview"]) == (1, 1, False)
        [issued] = body["invoices"]
        assert NUMBER.match(issued["number"])
        monthly = round(MONTHLY_FEE * 21 / 31)  # 11..31 October: 21 of 31 days
        assert monthly == 846_774
        subtotal = ONE_OFF_FEE + monthly + 100 * 1_200 + 11_250
        tax = 1_447_605  # 20 % of 7 238 024,00 = 1 447 604,80, half-up
        assert (issued["subtotal"], issued["tax"], issued["total"]) == (
            subtotal,
            tax,
            subtotal + tax,
        )

        detail = (await manager.get(f"/v1/invoices/{issued['invoice_id']}")).json()
        assert detail["status"] == "issued"
        assert (detail["period_start"], detail["period_end"]) == ("2026-10-01", "2026-10-31")
        assert sum(line["amount"] for line in detail["lines"]) == detail["subtotal"]
        kinds = [(x["kind"], x["code"], x["amount"]) for x in detail["lines"]]
        assert kinds == [
            ("one_off", "project_setup", ONE_OFF_FEE),
            ("monthly", "monthly_fee", monthly),
            ("usage", "attempt", 120_000),
            ("usage", "talk_minute", 11_250),
            ("usage", "won_deal", 0),
        ]
        fee_line = detail["lines"][1]
        assert (fee_line["active_days"], fee_line["days_in_month"]) == (21, 31)
        assert fee_line["note"].startswith("21 из 31 дня")
        assert "нет тарифа" in detail["lines"][4]["note"]
        assert all(isinstance(x["amount"], int) for x in detail["lines"])

        async with session_scope(STAFF) as session:
            fees = (
                await session.scalars(select(OneOffFee).where(OneOffFee.tenant_id == customer.id))
            ).all()
            events = (
                await session.execute(
                    select(OUTBOX["billing"].c.payload)
                    .where(OUTBOX["billing"].c.event_type == "invoice.issued")
                    .where(OUTBOX["billing"].c.tenant_id == customer.id)
                )
            ).all()
        assert [f.invoice_id for f in fees] == [uuid.UUID(issued["invoice_id"])]
        [(payload,)] = events
        assert payload["number"] == issued["number"]
        assert payload["total"] == subtotal + tax

    async def test_a_whole_month_is_exactly_the_fee_and_one_off_fees_are_not_billed_again(
        self,
    ) -> None:
        customer, _ = await _billed_customer()
        await run_period("2026-10", [customer.id])
        result = await run_period("2026-11", [customer.id])
        [issued] = result.invoices
        lines = await _lines_of(issued.invoice_id or new_id())
        assert [(x.kind, x.amount, x.note) for x in lines] == [("monthly", MONTHLY_FEE, None)]
        assert (issued.subtotal, issued.tax, issued.total) == (1_250_000, 250_000, 1_500_000)

    async def test_running_the_same_period_again_issues_nothing(self) -> None:
        customer, _ = await _billed_customer()
        first = await run_period("2026-10", [customer.id])
        second = await run_period("2026-10", [customer.id])
        assert first.invoices_issued == 1
        assert (second.invoices_issued, second.tenants_closed, second.already_closed) == (0, 0, 1)
        assert len(await _invoices_of(customer.id)) == 1

    async def test_preview_lists_the_invoice_and_writes_nothing(
        self, api_client: ApiClient
    ) -> None:
        customer, _ = await _billed_customer()
        manager = api_client(role=Role.ADMIN)
        body = {"period": "2026-10", "tenant_ids": [str(customer.id)], "preview": True}

        r = await manager.post("/v1/billing/runs", json=body)

        assert r.status_code == 200, r.text
        preview = r.json()
        [would] = preview["invoices"]
        assert (preview["preview"], preview["run_id"], would["number"]) == (True, None, None)
        assert len(would["lines"]) == 5
        assert await _invoices_of(customer.id) == []
        async with session_scope(STAFF) as session:
            fresh = await get_customer(session, customer.id)
            pending = await session.scalar(
                select(func.count())
                .select_from(OneOffFee)
                .where(OneOffFee.tenant_id == customer.id)
                .where(OneOffFee.invoice_id.is_(None))
            )
        assert fresh is not None
        assert fresh.closed_through is None
        assert pending == 1
        real = await run_period("2026-10", [customer.id])
        assert real.invoices[0].total == would["total"]

    async def test_a_tenant_closed_mid_month_pays_for_the_days_before(self) -> None:
        customer = await make_customer()
        await deliver(
            "billing",
            quote_event(customer.id, new_id(), accepted_at=msk(2026, 10, 1, 0), one_off=()),
        )
        await run_period("2026-10", [customer.id])
        closed = new_event(
            "tenant.status_changed",
            tenant_id=customer.id,
            payload={"tenant_id": str(customer.id), "from_status": "active", "to_status": "closed"},
        )
        closed = closed.__class__(
            id=closed.id,
            type=closed.type,
            version=closed.version,
            tenant_id=closed.tenant_id,
            occurred_at=msk(2026, 11, 20, 10),
            payload=closed.payload,
        )
        await deliver("billing", closed)
        result = await run_period("2026-11", [customer.id])
        [line] = await _lines_of(result.invoices[0].invoice_id or new_id())
        assert (line.active_days, line.days_in_month) == (19, 30)
        assert line.amount == 791_667  # 1 250 000 * 19 / 30 = 791 666,67 → half-up
        assert line.note is not None
        assert line.note.startswith("19 из 30 дней (с 1 ноября по 19 ноября)")

    async def test_a_tenant_with_nothing_to_bill_gets_no_invoice_but_its_period_closes(
        self,
    ) -> None:
        customer = await make_customer()
        result = await run_period("2026-10", [customer.id])
        assert (result.invoices_issued, result.nothing_to_bill) == (0, 1)
        async with session_scope(STAFF) as session:
            fresh = await get_customer(session, customer.id)
        assert fresh is not None
        assert fresh.closed_through == date(2026, 10, 1)

    async def test_clients_cannot_run_billing(self, api_client: ApiClient) -> None:
        customer = await make_customer()
        r = await api_client(role=Role.CLIENT_ADMIN, tenant_id=customer.id).post(
            "/v1/billing/runs", json={"period": "2026-10"}
        )
        assert r.status_code == 403

    async def test_a_bad_period_is_a_422_naming_the_field(self, api_client: ApiClient) -> None:
        r = await api_client(role=Role.ADMIN).post(
            "/v1/billing/runs", json={"period": "2026-13", "preview": True}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "period"


class TestRunRefusals:
    """A month not yet over is not closed (except a closed tenant's final invoice), and a
    run for every customer must be confirmed."""

    @staticmethod
    def this_month() -> str:
        today = utcnow()
        return f"{today.year:04d}-{today.month:02d}"

    async def test_all_tenant_run_needs_confirmation(self, api_client: ApiClient) -> None:
        r = await api_client(role=Role.ADMIN).post("/v1/billing/runs", json={"period": "2026-10"})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["confirm"]

    async def test_all_tenant_preview_needs_no_confirmation(self, api_client: ApiClient) -> None:
        r = await api_client(role=Role.ADMIN).post(
            "/v1/billing/runs", json={"period": "2026-10", "preview": True}
        )
        assert r.status_code == 200, r.text

    async def test_confirmed_run_for_the_current_month_is_refused(
        self, api_client: ApiClient
    ) -> None:
        customer, _ = await _billed_customer()
        period = self.this_month()
        r = await api_client(role=Role.ADMIN).post(
            "/v1/billing/runs", json={"period": period, "confirm": True}
        )
        assert r.status_code == 409, r.text
        assert (r.json()["code"], r.json()["period"]) == ("period_not_ended", period)
        assert period in r.json()["detail"]
        async with session_scope(STAFF) as session:
            fresh = await get_customer(session, customer.id)
        assert fresh is not None
        assert fresh.closed_through is None
        assert await _invoices_of(customer.id) == []

    async def test_an_active_tenant_s_current_month_is_refused(self, api_client: ApiClient) -> None:
        customer, _ = await _billed_customer()
        r = await api_client(role=Role.ADMIN).post(
            "/v1/billing/runs",
            json={"period": self.this_month(), "tenant_ids": [str(customer.id)]},
        )
        assert r.status_code == 409, r.text
        assert await _invoices_of(customer.id) == []

    async def test_a_closed_tenant_s_current_month_closes(self, api_client: ApiClient) -> None:
        customer, _ = await _billed_customer()
        await deliver(
            "billing",
            new_event(
                "tenant.status_changed",
                tenant_id=customer.id,
                payload={"tenant_id": customer.id, "from_status": "active", "to_status": "closed"},
            ),
        )
        r = await api_client(role=Role.ADMIN).post(
            "/v1/billing/runs",
            json={"period": self.this_month(), "tenant_ids": [str(customer.id)]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["tenants_closed"] == 1


class TestNumbering:
    async def _all_numbers(self) -> list[int]:
        async with session_scope(STAFF) as session:
            numbers = (
                await session.scalars(select(Invoice.number).where(Invoice.number.is_not(None)))
            ).all()
        year = date.today().year
        prefix = f"KK-{year}-"
        return sorted(int(n.rsplit("-", 1)[1]) for n in numbers if n and n.startswith(prefix))

    async def test_concurrent_runs_number_gaplessly_and_bill_each_tenant_once(self) -> None:
        customers = [(await _billed_customer())[0] for _ in range(6)]
        ids = [c.id for c in customers]

        first, second = await asyncio.gather(
            run_period("2026-10", ids[:4]), run_period("2026-10", ids[2:])
        )

        assert first.invoices_issued + second.invoices_issued == 6
        for tenant_id in ids:
            assert len(await _invoices_of(tenant_id)) == 1
        mine = sorted(
            int((x.number or "").rsplit("-", 1)[1]) for x in first.invoices + second.invoices
        )
        assert mine == list(range(mine[0], mine[0] + 6))
        everything = await self._all_numbers()
        assert everything == list(range(1, len(everything) + 1))

    async def test_a_rolled_back_run_gives_its_numbers_back(self) -> None:
        doomed, kept = (await _billed_customer())[0], (await _billed_customer())[0]
        before = await self._all_numbers()

        async def failing_run() -> None:
            async with session_scope(STAFF) as session:
                await billing_runs.run(
                    session, SYSTEM, period=parse_period("2026-10"), tenant_ids=[doomed.id]
                )
                raise RuntimeError("the run's transaction fails after numbering")

        with pytest.raises(RuntimeError):
            await failing_run()
        result = await run_period("2026-10", [kept.id, doomed.id])

        assert result.invoices_issued == 2
        after = await self._all_numbers()
        assert after == list(range(1, len(before) + 3))

    async def test_the_counter_row_is_locked_while_a_run_is_open(self) -> None:
        customer = (await _billed_customer())[0]
        async with session_scope(STAFF) as session:
            await billing_runs.run(
                session, SYSTEM, period=parse_period("2026-10"), tenant_ids=[customer.id]
            )
            async with session_scope(STAFF) as other:
                locked = await other.scalar(
                    text(
                        "SELECT count(*) FROM (SELECT 1 FROM billing.invoice_counters "
                        "WHERE year = :y FOR UPDATE SKIP LOCKED) AS free"
                    ),
                    {"y": date.today().year},
                )
            assert locked == 0


class TestSchedule:
    def test_the_monthly_run_is_scheduled_at_three_on_the_first(self) -> None:
        import services.billing.jobs  # noqa: F401

        job = _REGISTRY["billing.monthly_run"]
        assert job.cron == "0 3 1 * *"

    def test_the_scheduled_run_closes_the_previous_month(self) -> None:
        assert previous_period(msk(2026, 12, 1, 6)) == date(2026, 11, 1)
        assert previous_period(msk(2027, 1, 1, 6)) == date(2026, 12, 1)
