"""Dunning: retries after 1, 3 and 5 days, overdue after the grace period, the tenant
suspended by ``invoice.overdue`` and resumed by ``invoice.paid`` (onboarding's consumers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.billing.stripe import dunning, payments, repository
from services.billing.stripe.settings import StripeSettings
from shared.db.session import STAFF, session_scope
from tests.billing.stripe.conftest import (
    attempts,
    billing_events,
    billing_tenant,
    client_admin_headers,
    deliver_outbox,
    issued_invoice,
    load_invoice,
)
from tests.support.together import meet_after


async def _tenant_status(tenant_id) -> tuple[str, str | None]:
    async with session_scope(STAFF) as session:
        row = (
            await session.execute(
                text("select status, status_reason from onboarding.tenants where id = :id"),
                {"id": tenant_id},
            )
        ).one()
    return row.status, row.status_reason


class TestSchedule:
    def test_retries_count_from_the_first_failure(self) -> None:
        t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        s = StripeSettings(retry_days=(1, 3, 5))
        assert [dunning.next_retry_at(n, t0, s) for n in (1, 2, 3, 4)] == [
            t0 + timedelta(days=1),
            t0 + timedelta(days=3),
            t0 + timedelta(days=5),
            None,
        ]

    def test_schedule_is_configurable(self) -> None:
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        s = StripeSettings(retry_days=(2,))
        assert dunning.next_retry_at(1, t0, s) == t0 + timedelta(days=2)
        assert dunning.next_retry_at(2, t0, s) is None
        assert s.max_attempts == 2


class TestDunningLoop:
    async def test_declines_retries_overdue_suspend_pay_resume(self, client) -> None:
        tenant = await billing_tenant()
        headers = await client_admin_headers(tenant.id)
        r = await client.post(
            "/v1/billing/payment-method",
            json={"payment_method_id": "pm_card_chargeCustomerFail"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        t0 = datetime.now(UTC).replace(microsecond=0)
        invoice = await issued_invoice(tenant.id, issued_at=t0, due_at=t0)

        async def run_at(moment: datetime) -> None:
            await payments.charge_due(now=moment)
            await dunning.mark_overdue_due(now=moment)

        # day 0: the first charge is declined; retry tomorrow
        await run_at(t0)
        inv = await load_invoice(invoice.id)
        assert (inv.status, inv.payment_attempts) == ("payment_failed", 1)
        assert inv.next_payment_at == t0 + timedelta(days=1)

        # half a day later nothing is due
        await run_at(t0 + timedelta(hours=12))
        assert len(await attempts(invoice.id)) == 1

        # retries on days 1, 3 and 5, each declined
        for day, next_day in ((1, 3), (3, 5), (5, None)):
            await run_at(t0 + timedelta(days=day))
            inv = await load_invoice(invoice.id)
            assert inv.status == "payment_failed"
            assert inv.payment_attempts == len(await attempts(invoice.id))
            expected = t0 + timedelta(days=next_day) if next_day else None
            assert inv.next_payment_at == expected
        assert [a["status"] for a in await attempts(invoice.id)] == ["failed"] * 4

        # within the grace period (2 days after the last failure): not yet overdue
        await run_at(t0 + timedelta(days=6))
        assert (await load_invoice(invoice.id)).status == "payment_failed"
        assert len(await attempts(invoice.id)) == 4  # no fifth charge

        # past it: overdue, invoice.overdue published once
        await run_at(t0 + timedelta(days=7, minutes=1))
        await run_at(t0 + timedelta(days=8))
        assert (await load_invoice(invoice.id)).status == "overdue"
        [overdue] = await billing_events("invoice.overdue", invoice.id)
        assert overdue["tenant_id"] == tenant.id

        # onboarding consumes invoice.overdue: the tenant is suspended, saying why
        assert await deliver_outbox("billing", "onboarding", tenant_id=tenant.id, prefix="invoice.")
        status, reason = await _tenant_status(tenant.id)
        assert status == "suspended"
        assert reason == "invoice_overdue"

        # the client saves a working card; what it owes is charged and paid
        r = await client.post(
            "/v1/billing/payment-method",
            json={"payment_method_id": "pm_card_visa"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        outcomes = await payments.charge_outstanding(tenant.id, now=t0 + timedelta(days=9))
        assert [(o.status, o.attempt) for o in outcomes] == [("succeeded", 5)]
        paid = await load_invoice(invoice.id)
        assert paid.status == "paid"
        assert paid.amount_paid == invoice.total
        assert len(await billing_events("invoice.paid", invoice.id)) == 1

        # onboarding consumes invoice.paid: the tenant is active again
        assert await deliver_outbox("billing", "onboarding", tenant_id=tenant.id, prefix="invoice.")
        status, _ = await _tenant_status(tenant.id)
        assert status == "active"

    async def test_no_payment_method_no_charge(self) -> None:
        tenant = await billing_tenant()
        invoice = await issued_invoice(tenant.id)
        outcome = await payments.charge_invoice(tenant.id, invoice.id)
        assert outcome.status == "skipped"
        assert await attempts(invoice.id) == []
        assert (await load_invoice(invoice.id)).status == "issued"

    async def test_an_invoice_nobody_could_charge_is_overdue_after_due_date_and_grace(
        self,
    ) -> None:
        # No payment method saved (paid by transfer, or never set up): no attempt is
        # ever made, yet past its due date and the grace period it is overdue.
        tenant = await billing_tenant()
        now = datetime.now(UTC)
        grace = timedelta(days=StripeSettings().grace_days)
        invoice = await issued_invoice(tenant.id, issued_at=now - timedelta(days=30))
        async with session_scope(STAFF) as session:
            await session.execute(
                text("update billing.invoices set due_at = :due where id = :id"),
                {"due": now - grace + timedelta(hours=1), "id": invoice.id},
            )

        await dunning.mark_overdue_due(now=now)
        assert (await load_invoice(invoice.id)).status == "issued"  # grace not over yet

        await dunning.mark_overdue_due(now=now + timedelta(hours=2))
        assert (await load_invoice(invoice.id)).status == "overdue"
        assert len(await billing_events("invoice.overdue", invoice.id)) == 1


class TestTwoRunsAtOnce:
    async def test_two_dunning_runs_over_the_same_candidates_move_each_invoice_once(
        self, monkeypatch
    ) -> None:
        now = datetime.now(UTC)
        grace = timedelta(days=StripeSettings().grace_days)
        tenants = [await billing_tenant() for _ in range(2)]
        mine = {t.id for t in tenants}
        invoices = [await issued_invoice(t.id, issued_at=now - timedelta(days=30)) for t in tenants]
        async with session_scope(STAFF) as session:
            for invoice in invoices:
                await session.execute(
                    text("update billing.invoices set due_at = :due where id = :id"),
                    {"due": now - grace - timedelta(hours=1), "id": invoice.id},
                )
        read = repository.dunning_exhausted

        async def only_mine(session, **kwargs):
            return [row for row in await read(session, **kwargs) if row[0] in mine]

        monkeypatch.setattr(repository, "dunning_exhausted", only_mine)
        meet_after(monkeypatch, repository, "dunning_exhausted")

        counts = await asyncio.gather(
            dunning.mark_overdue_due(now=now), dunning.mark_overdue_due(now=now)
        )

        assert sum(counts) == len(invoices)
        for invoice in invoices:
            assert (await load_invoice(invoice.id)).status == "overdue"
            assert len(await billing_events("invoice.overdue", invoice.id)) == 1
