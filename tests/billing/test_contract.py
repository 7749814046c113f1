# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""The issue's contract as a client meets it: Location of created credit notes, the
same 404 for "not yours" and "missing" on every route, API keys with ``invoices:read``,
the OpenAPI document, and an invoice PDF whose units read as Russian."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from services.billing.invoices.models import Invoice
from services.billing.runs.service import previous_period
from shared.auth.api_keys import generate_api_key
from shared.context import Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.billing.test_invoices import issued_invoice
from tests.support.clients import ApiClient


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


async def _api_key(tenant_id: uuid.UUID, scopes: list[str]) -> str:
    """A key of ``tenant_id`` (its onboarding row is made first: the key's FK needs it)."""
    new = generate_api_key()
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "INSERT INTO onboarding.tenants (id, slug, name, legal_name, inn, billing_email)"
                " VALUES (:id, :slug, 'T', 'ООО «Т»', :inn, 'b@example.test')"
                " ON CONFLICT DO NOTHING"
            ),
            {"id": tenant_id, "slug": f"k-{tenant_id.hex[:12]}", "inn": str(tenant_id.int)[-12:]},
        )
        await session.execute(
            text(
                "INSERT INTO onboarding.api_keys (tenant_id, id, name, prefix, key_hash, scopes)"
                " VALUES (:tenant_id, :id, 'billing test', :prefix, :key_hash, :scopes)"
            ),
            {
                "tenant_id": tenant_id,
                "id": new_id(),
                "prefix": new.prefix,
                "key_hash": new.key_hash,
                "scopes": scopes,
            },
        )
    return new.key


class TestCreditNoteLocation:
    async def test_the_location_of_a_credit_note_answers_with_that_note(
        self, api_client: ApiClient
    ) -> None:
        invoice = await issued_invoice()
        manager = api_client(role=Role.ACCOUNT_MANAGER)

        r = await manager.post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"reason": "сбой телефонии", "amount": 50_000},
        )

        assert r.status_code == 201, r.text
        location = r.headers["location"]
        assert location == f"/v1/invoices/{invoice.id}/credit-notes/{r.json()['id']}"
        reader = api_client(role=Role.CLIENT_USER, tenant_id=invoice.tenant_id)
        got = await reader.get(location)
        assert got.status_code == 200, got.text
        assert got.json() == r.json()


class TestNotYoursIsNotFound:
    async def test_another_tenants_invoice_is_the_same_404_as_a_missing_one_everywhere(
        self, api_client: ApiClient
    ) -> None:
        theirs = await issued_invoice()
        manager = api_client(role=Role.ADMIN)
        note = await manager.post(
            f"/v1/invoices/{theirs.id}/credit-notes", json={"reason": "x", "amount": 1_000}
        )
        assert note.status_code == 201
        me = api_client(role=Role.CLIENT_ADMIN, tenant_id=new_id())
        missing = uuid.uuid4()
        for suffix in ("", "/pdf", f"/credit-notes/{note.json()['id']}"):
            other = await me.get(f"/v1/invoices/{theirs.id}{suffix}")
            absent = await me.get(f"/v1/invoices/{missing}{suffix}")
            assert (other.status_code, absent.status_code) == (404, 404), suffix
            assert other.json()["code"] == "invoice_not_found"
            assert _without_request_id(other.json()) == _without_request_id(absent.json())


class TestApiKeys:
    async def test_a_key_with_invoices_read_lists_its_tenants_invoices_only(
        self, api_client: ApiClient
    ) -> None:
        mine, theirs = await issued_invoice(), await issued_invoice()
        key = await _api_key(mine.tenant_id, ["invoices:read"])
        weak = await _api_key(mine.tenant_id, ["leads:write"])
        async with api_client() as c:
            c.headers["Authorization"] = f"Bearer {key}"
            listed = await c.get("/v1/invoices", params={"limit": 500})
            assert listed.status_code == 200, listed.text
            assert {x["id"] for x in listed.json()["items"]} == {str(mine.id)}
            assert (await c.get(f"/v1/invoices/{mine.id}")).status_code == 200
            assert (await c.get(f"/v1/invoices/{theirs.id}")).status_code == 404
            c.headers["Authorization"] = f"Bearer {weak}"
            assert (await c.get("/v1/invoices")).status_code == 403


class TestOpenApi:
    @pytest.fixture(scope="class")
    def paths(self) -> dict[str, Any]:
        from kolokol.app import openapi_document

        return dict(openapi_document()["paths"])

    def test_every_billing_route_is_listed_with_its_problems(self, paths: dict[str, Any]) -> None:
        expected = {
            ("post", "/v1/billing/runs"): {"401", "403", "409", "422"},
            ("get", "/v1/invoices"): {"401", "403", "422"},
            ("get", "/v1/invoices/{invoice_id}"): {"401", "403", "404"},
            ("get", "/v1/invoices/{invoice_id}/pdf"): {"401", "403", "404"},
            ("post", "/v1/invoices/{invoice_id}/void"): {"401", "403", "404", "409"},
            ("post", "/v1/invoices/{invoice_id}/credit-notes"): {"403", "404", "409", "422"},
            ("get", "/v1/invoices/{invoice_id}/credit-notes/{note_id}"): {"404"},
            ("get", "/v1/billing/reports/revenue"): {"401", "403", "422"},
            ("get", "/v1/billing/reports/project-costs"): {"401", "403", "422"},
            ("post", "/v1/stripe/webhook"): {"400"},
            ("post", "/v1/billing/payment-method"): {"401", "403", "404", "422"},
        }
        for (method, path), statuses in expected.items():
            assert path in paths, path
            documented = set(paths[path][method]["responses"])
            assert statuses <= documented, (method, path, statuses - documented)

    def test_creating_a_credit_note_documents_201_with_location(
        self, paths: dict[str, Any]
    ) -> None:
        created = paths["/v1/invoices/{invoice_id}/credit-notes"]["post"]["responses"]["201"]
        assert "Location" in created["headers"]

    def test_the_pdf_is_documented_as_a_pdf(self, paths: dict[str, Any]) -> None:
        ok = paths["/v1/invoices/{invoice_id}/pdf"]["get"]["responses"]["200"]
        assert list(ok["content"]) == ["application/pdf"]


class TestPdf:
    async def test_units_stand_in_their_own_column(self, api_client: ApiClient) -> None:
        invoice: Invoice = await issued_invoice()
        me = api_client(role=Role.CLIENT_USER, tenant_id=invoice.tenant_id)

        r = await me.get(f"/v1/invoices/{invoice.id}/pdf")

        assert r.status_code == 200
        text_ = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        # A unit under its own heading ("Ед."), never glued to the quantity: "1 532
        # попытка" does not agree in Russian, "1 532 | попытка" is how a счёт reads.
        assert "Кол-во Ед. Цена" in text_


class TestReportDefaults:
    async def test_revenue_without_dates_covers_the_last_twelve_months(
        self, api_client: ApiClient
    ) -> None:
        r = await api_client(role=Role.ADMIN).get("/v1/billing/reports/revenue")

        assert r.status_code == 200, r.text
        today = utcnow().date()
        # twelve months ending with this one
        first = (
            date(today.year - 1, today.month + 1, 1) if today.month < 12 else date(today.year, 1, 1)
        )
        assert r.json()["to_month"] == f"{today.year:04d}-{today.month:02d}"
        assert r.json()["from_month"] == f"{first.year:04d}-{first.month:02d}"

    async def test_project_costs_without_a_month_is_the_last_closed_month(
        self, api_client: ApiClient
    ) -> None:
        r = await api_client(role=Role.ADMIN).get("/v1/billing/reports/project-costs")

        assert r.status_code == 200, r.text
        last = previous_period(utcnow())
        assert r.json()["month"] == f"{last.year:04d}-{last.month:02d}"
