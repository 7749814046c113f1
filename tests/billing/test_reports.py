"""Reports: revenue per month; cost per project per month (and per deal won)."""

from __future__ import annotations

from sqlalchemy import select

from services.billing.invoices.models import Invoice
from services.billing.invoices.service import invoices
from shared.context import Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import new_event
from tests.billing.conftest import (
    MONTHLY_FEE,
    make_customer,
    msk,
    quote_event,
    run_period,
    usage_event,
)
from tests.support.clients import ApiClient


class TestRevenue:
    async def test_issued_paid_and_outstanding_per_month(self, api_client: ApiClient) -> None:
        customer = await make_customer(tax_rate_bp=0)
        await deliver(
            "billing",
            quote_event(customer.id, new_id(), accepted_at=msk(2026, 9, 1, 0), one_off=()),
        )
        september = (await run_period("2026-09", [customer.id])).invoices[0]
        october = (await run_period("2026-10", [customer.id])).invoices[0]
        async with session_scope(STAFF) as session:
            await invoices.mark_paid(
                session,
                september.invoice_id or new_id(),
                paid_at=utcnow(),
                amount=september.total,
                payment_ref="pi",
            )
        manager = api_client(role=Role.ADMIN)

        r = await manager.get(
            "/v1/billing/reports/revenue",
            params={"from": "2026-09", "to": "2026-11", "tenant_id": str(customer.id)},
        )

        assert r.status_code == 200, r.text
        months = [
            (m["month"], m["invoices"], m["issued"], m["paid"], m["outstanding"])
            for m in r.json()["months"]
        ]
        assert months == [
            ("2026-09", 1, MONTHLY_FEE, MONTHLY_FEE, 0),
            ("2026-10", 1, MONTHLY_FEE, 0, MONTHLY_FEE),
        ]
        assert october.total == MONTHLY_FEE

    async def test_clients_cannot_read_revenue(self, api_client: ApiClient) -> None:
        customer = await make_customer()
        r = await api_client(role=Role.CLIENT_ADMIN, tenant_id=customer.id).get(
            "/v1/billing/reports/revenue", params={"from": "2026-01", "to": "2026-02"}
        )
        assert r.status_code == 403

    async def test_a_bad_month_names_the_parameter(self, api_client: ApiClient) -> None:
        r = await api_client(role=Role.ADMIN).get(
            "/v1/billing/reports/revenue", params={"from": "2026-1", "to": "2026-02"}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "from"


class TestProjectCosts:
    async def test_cost_per_project_and_per_deal_won(self, api_client: ApiClient) -> None:
        customer = await make_customer()
        sales, support = new_id(), new_id()
        for project in (sales, support):
            await deliver(
                "billing",
                quote_event(customer.id, project, accepted_at=msk(2026, 10, 1, 0), one_off=()),
            )
        await deliver("billing", usage_event(customer.id, sales, "attempt", 50, msk(2026, 10, 5)))
        for lead in (new_id(), new_id()):
            for _ in range(2):  # a lead counts once, however often it is reported won
                await deliver(
                    "billing",
                    new_event(
                        "lead.stage_changed",
                        tenant_id=customer.id,
                        payload={
                            "lead_id": str(lead),
                            "project_id": str(sales),
                            "from_stage": "proposal",
                            "to_stage": "won",
                            "changed_at": msk(2026, 10, 20).isoformat(),
                        },
                    ),
                )
        await run_period("2026-10", [customer.id])
        me = api_client(role=Role.CLIENT_USER, tenant_id=customer.id)

        r = await me.get("/v1/billing/reports/project-costs", params={"month": "2026-10"})

        assert r.status_code == 200, r.text
        rows = {p["project_id"]: p for p in r.json()["projects"]}
        assert set(rows) == {str(sales), str(support)}
        assert (rows[str(sales)]["monthly"], rows[str(sales)]["usage"]) == (MONTHLY_FEE, 60_000)
        assert rows[str(sales)]["billed"] == MONTHLY_FEE + 60_000
        assert rows[str(sales)]["deals_won"] == 2
        assert rows[str(sales)]["cost_per_deal"] == (MONTHLY_FEE + 60_000) // 2
        assert (rows[str(support)]["deals_won"], rows[str(support)]["cost_per_deal"]) == (0, None)

    async def test_void_invoices_cost_nothing(self, api_client: ApiClient) -> None:
        customer = await make_customer()
        project = new_id()
        await deliver(
            "billing",
            quote_event(customer.id, project, accepted_at=msk(2026, 10, 1, 0), one_off=()),
        )
        result = await run_period("2026-10", [customer.id])
        manager = api_client(role=Role.ACCOUNT_MANAGER)
        await manager.post(f"/v1/invoices/{result.invoices[0].invoice_id}/void")
        r = await manager.get(
            "/v1/billing/reports/project-costs",
            params={"month": "2026-10", "tenant_id": str(customer.id)},
        )
        assert r.json()["projects"] == []
        async with session_scope(STAFF) as session:
            status = await session.scalar(
                select(Invoice.status).where(Invoice.id == result.invoices[0].invoice_id)
            )
        assert status == "void"
