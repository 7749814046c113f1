"""``POST /v1/projects/{id}/plan`` over HTTP, priced with a real rate card."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.rate_card.models import Unit
from services.pricing.rate_card.schemas import RateCardItemCreate
from services.pricing.rate_card.service import current_prices, rate_card
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.messaging.consumers import deliver
from shared.messaging.events import new_event
from tests.pricing.conftest import mirror_tenant, person
from tests.support.clients import ApiClient

CURRENCY = "PLN"
"""A currency only these tests price in, so their rate-card codes collide with no one's."""

PRICES = {
    "attempt": (Unit.ATTEMPT, 1_500),
    "talk_minute": (Unit.MINUTE, 1_200),
    "qualified_lead": (Unit.LEAD, 250_000),
    "won_deal": (Unit.DEAL, 1_000_000),
    "operator_hour": (Unit.HOUR, 45_000),
}

EXAMPLE = {
    "deals_per_month": 10,
    "conversion": {
        "lead_to_contact": 0.5,
        "contact_to_qualified": "0.4",
        "qualified_to_deal": 0.25,
    },
    "attempts_per_lead": 3,
    "avg_talk_minutes": 4,
    "handling_minutes_per_attempt": 1,
    "occupancy": "0.8",
    "hours_per_operator": 160,
}


@pytest.fixture
async def priced_tenant() -> TenantMirror:
    ctx = person(Role.ADMIN)
    async with session_scope(STAFF) as session:
        have = await current_prices(session, CURRENCY)
        for code, (unit, price) in PRICES.items():
            if code not in have:
                await rate_card.create(
                    session,
                    ctx,
                    RateCardItemCreate(
                        code=code,
                        name=code.replace("_", " "),
                        unit=unit,
                        kind=LineKind.USAGE,
                        unit_price=price,
                        currency=CURRENCY,
                    ),
                )
    return await mirror_tenant(currency=CURRENCY)


async def new_project(client: httpx.AsyncClient, tenant: TenantMirror, kind: str) -> str:
    response = await client.post(
        "/v1/projects", json={"tenant_id": str(tenant.id), "name": "Plan me", "kind": kind}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def plan(client: httpx.AsyncClient, project_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/projects/{project_id}/plan", json=body)


class TestPlan:
    async def test_worked_example(
        self, staff_client: httpx.AsyncClient, priced_tenant: TenantMirror
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "active_sales")
        response = await plan(staff_client, pid, EXAMPLE)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["volumes"] == {
            "deals": 10,
            "qualified_leads": 40,
            "contacts": 100,
            "leads": 200,
            "attempts": 600,
            "talk_minutes": "400.00",
            "operator_hours": "20.84",
            "operators": 1,
        }
        assert body["ratios"] == {
            "leads_per_deal": "20.00",  # leads make one deal
            "attempts_per_lead": "3.00",  # calls one lead takes
            "attempts_per_contact": "6.00",
            "attempts_per_qualified_lead": "15.00",
            "attempts_per_deal": "60.00",
        }
        assert body["currency"] == "PLN"
        assert body["lines"] == [
            {
                "rate_code": "attempt",
                "unit": "attempt",
                "quantity": "600",
                "unit_price": 1500,
                "amount": 900_000,
            },
            {
                "rate_code": "talk_minute",
                "unit": "minute",
                "quantity": "400.00",
                "unit_price": 1200,
                "amount": 480_000,
            },
        ]
        assert body["usage_total"] == 1_380_000
        assert body["cost_per_deal"] == 138_000
        assert body["assumptions"]["defaulted"] == []
        assert body["assumptions"]["conversion"]["lead_to_deal"] == "0.0500"
        assert body["quote_id"] is None

    async def test_kind_defaults_and_other_rate_codes(
        self,
        client_admin_client: httpx.AsyncClient,
        staff_client: httpx.AsyncClient,
        api_client: ApiClient,
        priced_tenant: TenantMirror,
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "outbound_first_call")
        client = api_client(role=Role.CLIENT_USER, tenant_id=priced_tenant.id)
        response = await plan(
            client,
            pid,
            {
                "deals_per_month": 3,
                "rate_codes": ["qualified_lead", "operator_hour"],
                "history": None,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        # outbound_first_call defaults: 0.6 / 0.4 / 0.2, 3 attempts, 4 talk minutes:
        # 3 / 0.2 = 15 qualified; 15 / 0.4 = 37.5 -> 38 contacts; 38 / 0.6 -> 64 leads
        assert body["volumes"]["leads"] == 64
        assert body["volumes"]["attempts"] == 192
        assert body["volumes"]["operator_hours"] == "7.17"  # (152 + 192) / 60 / 0.8
        assert body["ratios"]["leads_per_deal"] == "20.83"  # 1 / 0.048
        assert [(x["rate_code"], x["amount"]) for x in body["lines"]] == [
            ("qualified_lead", 15 * 250_000),
            ("operator_hour", 322_650),  # 7.17 * 45 000
        ]
        assert body["usage_total"] == 4_072_650
        assert body["cost_per_deal"] == 1_357_550
        assert body["assumptions"]["source"] == "kind_defaults"
        assert "conversion.lead_to_contact" in body["assumptions"]["defaulted"]

    @pytest.mark.parametrize(
        ("patch", "field", "code"),
        [
            ({"conversion": {"lead_to_contact": 0}}, "conversion.lead_to_contact", "out_of_range"),
            (
                {"conversion": {"qualified_to_deal": "1.5"}},
                "conversion.qualified_to_deal",
                "out_of_range",
            ),
            ({"attempts_per_lead": "0.5"}, "attempts_per_lead", "out_of_range"),
            ({"occupancy": 0}, "occupancy", "out_of_range"),
            ({"rate_codes": ["attempt", "setup"]}, "rate_codes[1]", "unknown_usage_code"),
        ],
    )
    async def test_bad_assumption_is_422_naming_it(
        self,
        staff_client: httpx.AsyncClient,
        priced_tenant: TenantMirror,
        patch: dict[str, Any],
        field: str,
        code: str,
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "inbound")
        response = await plan(staff_client, pid, {"deals_per_month": 5, **patch})
        assert response.status_code == 422
        assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]

    async def test_goal_and_history_shapes_are_checked(
        self, staff_client: httpx.AsyncClient, priced_tenant: TenantMirror
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "inbound")
        assert (await plan(staff_client, pid, {"deals_per_month": 0})).status_code == 422
        history = await plan(staff_client, pid, {"deals_per_month": 1, "history": {"won": 3}})
        assert history.status_code == 422

    async def test_currency_without_prices(self, staff_client: httpx.AsyncClient) -> None:
        tenant = await mirror_tenant(currency="XTS")
        pid = await new_project(staff_client, tenant, "inbound")
        response = await plan(staff_client, pid, {"deals_per_month": 1})
        assert response.status_code == 422
        assert {e["code"] for e in response.json()["errors"]} == {"no_current_price"}

    async def test_missing_project(self, staff_client: httpx.AsyncClient) -> None:
        response = await plan(staff_client, str(uuid.uuid4()), {"deals_per_month": 1})
        assert (response.status_code, response.json()["code"]) == (404, "project_not_found")

    async def test_operators_cannot_plan(
        self,
        staff_client: httpx.AsyncClient,
        api_client: ApiClient,
        priced_tenant: TenantMirror,
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "inbound")
        operator = api_client(role=Role.OPERATOR)
        assert (await plan(operator, pid, {"deals_per_month": 1})).status_code == 403


class TestSaveAsQuote:
    async def test_staff_saves_the_plan_as_a_draft_quote(
        self, staff_client: httpx.AsyncClient, priced_tenant: TenantMirror
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "active_sales")
        response = await plan(
            staff_client,
            pid,
            {
                **EXAMPLE,
                "rate_codes": ["attempt", "talk_minute", "won_deal"],
                "save_as_quote": True,
            },
        )
        assert response.status_code == 200, response.text
        quote_id = response.json()["quote_id"]
        assert quote_id is not None
        async with session_scope(STAFF) as session:
            quote = (
                await session.execute(
                    text("select project_id, status, currency from pricing.quotes where id = :id"),
                    {"id": uuid.UUID(quote_id)},
                )
            ).one()
            lines = (
                await session.execute(
                    text(
                        "select rate_code, quantity from pricing.quote_lines "
                        "where quote_id = :id order by position"
                    ),
                    {"id": uuid.UUID(quote_id)},
                )
            ).all()
        assert (str(quote.project_id), quote.status, quote.currency) == (pid, "draft", "PLN")
        assert [(r.rate_code, float(r.quantity)) for r in lines] == [
            ("attempt", 600.0),
            ("talk_minute", 400.0),
            ("won_deal", 10.0),
        ]

    async def test_clients_cannot_save_a_quote(
        self,
        staff_client: httpx.AsyncClient,
        api_client: ApiClient,
        priced_tenant: TenantMirror,
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "inbound")
        client = api_client(role=Role.CLIENT_ADMIN, tenant_id=priced_tenant.id)
        response = await plan(client, pid, {"deals_per_month": 1, "save_as_quote": True})
        assert response.status_code == 403


class TestOwnHistory:
    """The project's own funnel (from intake's and assignment's events, through the
    inbox) replaces the kind's default rates once it has 100 leads."""

    @staticmethod
    async def feed(tenant_id: uuid.UUID, project_id: str, leads: range) -> None:
        # 40 % reach contact, half of those qualify, a quarter of those win; two calls
        # of 90 s per lead
        for n in leads:
            lead = {"lead_id": str(uuid.uuid4()), "project_id": project_id}
            steps = (
                ["contacted"] * (n % 5 < 2)
                + ["qualified"] * (n % 10 == 0)
                + (["won"] * (n % 40 == 0))
            )
            events = [new_event("lead.received", tenant_id=tenant_id, payload=lead)]
            previous = "new"
            for step in steps:
                events.append(
                    new_event(
                        "lead.stage_changed",
                        tenant_id=tenant_id,
                        payload={**lead, "from_stage": previous, "to_stage": step},
                    )
                )
                previous = step
            for _ in range(2):
                events.append(
                    new_event(
                        "task.completed",
                        tenant_id=tenant_id,
                        payload={**lead, "task_id": str(uuid.uuid4()), "talk_seconds": 90},
                    )
                )
            for event in reversed(events):  # any order
                await deliver("pricing", event)
            assert not await deliver("pricing", events[-1])  # a repeat counts nothing

    async def test_rates_come_from_the_projects_funnel_once_it_has_enough_leads(
        self, staff_client: httpx.AsyncClient, priced_tenant: TenantMirror
    ) -> None:
        pid = await new_project(staff_client, priced_tenant, "outbound_first_call")
        await self.feed(priced_tenant.id, pid, range(99))
        young = (await plan(staff_client, pid, {"deals_per_month": 5})).json()
        assert young["assumptions"]["source"] == "kind_defaults"
        assert young["history"]["leads"] == 99
        assert young["history"]["used"] is False

        await self.feed(priced_tenant.id, pid, range(99, 200))
        body = (await plan(staff_client, pid, {"deals_per_month": 5})).json()
        assert body["history"] == {
            "leads": 200,
            "contacted": 80,
            "qualified": 20,
            "won": 5,
            "attempts": 400,
            "used": True,
        }
        assumptions = body["assumptions"]
        assert assumptions["source"] == "history"
        assert assumptions["conversion"]["lead_to_contact"] == "0.4000"
        assert assumptions["conversion"]["contact_to_qualified"] == "0.2500"
        assert assumptions["conversion"]["qualified_to_deal"] == "0.2500"
        assert assumptions["attempts_per_lead"] == "2.0000"
        # 200 leads with 2 calls of 90 s each, over 80 contacts
        assert assumptions["avg_talk_minutes"] == "7.5000"
        assert "conversion.lead_to_contact" not in assumptions["defaulted"]
        assert "occupancy" in assumptions["defaulted"]
        assert body["volumes"]["leads"] == 200  # 5 deals / 0.25 / 0.25 / 0.4

        given = (
            await plan(
                staff_client,
                pid,
                {"deals_per_month": 5, "conversion": {"lead_to_contact": "0.5"}},
            )
        ).json()
        assert given["assumptions"]["conversion"]["lead_to_contact"] == "0.5"  # the request wins
