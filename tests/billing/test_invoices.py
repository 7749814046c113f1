# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""Invoices: the state machine, payments, void, credit notes, reading, the PDF."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from services.billing.errors import InvoiceNotPayable
from services.billing.invoices.models import Invoice
from services.billing.invoices.service import invoices
from services.billing.mirrors.customers import Customer
from shared.context import Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.documents.formatting import format_money
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.outbox import OUTBOX
from tests.billing.conftest import make_customer, msk, quote_event, run_period
from tests.support.clients import ApiClient


async def issued_invoice(customer: Customer | None = None) -> Invoice:
    """An issued October invoice: one-off 62 600,00 + 12 500,00 monthly, 20 % VAT."""
    customer = customer or await make_customer()
    await deliver("billing", quote_event(customer.id, new_id(), accepted_at=msk(2026, 10, 1, 0)))
    result = await run_period("2026-10", [customer.id])
    async with session_scope(STAFF) as session:
        invoice = await session.scalar(
            select(Invoice).where(Invoice.id == result.invoices[0].invoice_id)
        )
    assert invoice is not None
    return invoice


async def events(event_type: str, invoice_id: uuid.UUID) -> list[dict[str, object]]:
    outbox = OUTBOX["billing"]
    async with session_scope(STAFF) as session:
        rows = (
            await session.execute(
                select(outbox.c.payload)
                .where(outbox.c.event_type == event_type)
                .where(outbox.c.payload["invoice_id"].astext == str(invoice_id))
            )
        ).all()
    return [r[0] for r in rows]


class TestStateMachine:
    async def test_failed_then_overdue_then_paid_emits_overdue_and_paid_once(self) -> None:
        invoice = await issued_invoice()
        retry_at = utcnow() + timedelta(days=1)
        async with session_scope(STAFF) as session:
            failed = await invoices.mark_payment_failed(
                session, invoice.id, error="card_declined", attempt=1, next_retry_at=retry_at
            )
        assert (failed.status, failed.payment_attempts) == ("payment_failed", 1)
        for _ in range(2):
            async with session_scope(STAFF) as session:
                overdue = await invoices.mark_overdue(session, invoice.id)
        assert overdue.status == "overdue"
        for _ in range(2):
            async with session_scope(STAFF) as session:
                paid = await invoices.mark_paid(
                    session, invoice.id, paid_at=utcnow(), amount=invoice.total, payment_ref="pi_1"
                )
        assert (paid.status, paid.amount_paid, paid.amount_due) == ("paid", invoice.total, 0)
        [overdue_event] = await events("invoice.overdue", invoice.id)
        [paid_event] = await events("invoice.paid", invoice.id)
        assert overdue_event["amount_due"] == invoice.total
        assert paid_event["amount_paid"] == invoice.total

    async def test_a_late_failure_report_does_not_undo_a_payment(self) -> None:
        invoice = await issued_invoice()
        async with session_scope(STAFF) as session:
            await invoices.mark_paid(
                session, invoice.id, paid_at=utcnow(), amount=invoice.total, payment_ref="pi_2"
            )
        async with session_scope(STAFF) as session:
            after = await invoices.mark_payment_failed(
                session, invoice.id, error="late", attempt=1, next_retry_at=None
            )
        assert after.status == "paid"

    async def test_an_older_attempts_failure_keeps_the_newer_retry_time(self) -> None:
        invoice = await issued_invoice()
        later = utcnow() + timedelta(days=3)
        async with session_scope(STAFF) as session:
            await invoices.mark_payment_failed(
                session, invoice.id, error="second", attempt=2, next_retry_at=later
            )
        async with session_scope(STAFF) as session:
            after = await invoices.mark_payment_failed(
                session, invoice.id, error="first", attempt=1, next_retry_at=utcnow()
            )
        assert (after.payment_attempts, after.next_payment_at, after.last_payment_error) == (
            2,
            later,
            "second",
        )

    async def test_issued_unpaid_lists_invoices_to_charge(self) -> None:
        invoice = await issued_invoice()
        async with session_scope(STAFF) as session:
            due = await invoices.issued_unpaid(session, limit=500)
        assert invoice.id in {i.id for i in due}

    async def test_a_void_invoice_cannot_be_paid(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        manager = api_client(role=Role.ACCOUNT_MANAGER)
        r = await manager.post(f"/v1/invoices/{invoice.id}/void", json={"reason": "duplicate"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "void"
        with pytest.raises(InvoiceNotPayable):
            async with session_scope(STAFF) as session:
                await invoices.mark_paid(
                    session, invoice.id, paid_at=utcnow(), amount=1, payment_ref=None
                )

    async def test_only_unpaid_invoices_can_be_voided(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        async with session_scope(STAFF) as session:
            await invoices.mark_paid(
                session, invoice.id, paid_at=utcnow(), amount=invoice.total, payment_ref="pi"
            )
        r = await api_client(role=Role.ADMIN).post(f"/v1/invoices/{invoice.id}/void")
        assert r.status_code == 409
        assert r.json()["code"] == "illegal_transition"

    async def test_clients_cannot_void(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        r = await api_client(role=Role.CLIENT_ADMIN, tenant_id=invoice.tenant_id).post(
            f"/v1/invoices/{invoice.id}/void"
        )
        assert r.status_code == 403


class TestCreditNotes:
    async def test_a_credit_note_lowers_what_is_due_and_never_edits_the_invoice(
        self, api_client: ApiClient
    ) -> None:
        invoice = await issued_invoice()
        manager = api_client(role=Role.ACCOUNT_MANAGER)
        before = (await manager.get(f"/v1/invoices/{invoice.id}")).json()

        r = await manager.post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"reason": "training cancelled", "amount": 100_000},
        )

        assert r.status_code == 201, r.text
        note = r.json()
        assert (note["subtotal"], note["tax"], note["total"]) == (100_000, 20_000, 120_000)
        assert note["number"] == f"{invoice.number}-C1"
        after = (await manager.get(f"/v1/invoices/{invoice.id}")).json()
        assert after["lines"] == before["lines"]
        assert (after["total"], after["subtotal"]) == (before["total"], before["subtotal"])
        assert after["credited"] == 120_000
        assert after["amount_due"] == before["total"] - 120_000
        assert [n["number"] for n in after["credit_notes"]] == [note["number"]]

    async def test_a_credit_by_line_cannot_exceed_the_line(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        manager = api_client(role=Role.ACCOUNT_MANAGER)
        detail = (await manager.get(f"/v1/invoices/{invoice.id}")).json()
        line = detail["lines"][1]
        r = await manager.post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"reason": "x", "lines": [{"line_id": line["id"], "amount": line["amount"] + 1}]},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "lines[0].amount"
        ok = await manager.post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"reason": "x", "lines": [{"line_id": line["id"], "amount": line["amount"]}]},
        )
        assert ok.status_code == 201

    async def test_credits_cannot_exceed_the_invoice(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        r = await api_client(role=Role.ADMIN).post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"reason": "too much", "amount": invoice.subtotal + 1},
        )
        assert r.status_code == 409
        assert r.json()["code"] == "credit_exceeds_invoice"


class TestReading:
    async def test_tenant_users_see_their_own_invoices_only(self, api_client: ApiClient) -> None:
        mine, theirs = await issued_invoice(), await issued_invoice()
        me = api_client(role=Role.CLIENT_USER, tenant_id=mine.tenant_id)

        listed = (await me.get("/v1/invoices", params={"limit": 500})).json()
        assert {x["id"] for x in listed["items"]} == {str(mine.id)}
        assert (await me.get(f"/v1/invoices/{mine.id}")).status_code == 200
        other = await me.get(f"/v1/invoices/{theirs.id}")
        assert other.status_code == 404
        assert other.json()["code"] == "invoice_not_found"
        assert (await me.get(f"/v1/invoices/{theirs.id}/pdf")).status_code == 404

    async def test_staff_filter_by_status_and_period(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        manager = api_client(role=Role.ACCOUNT_MANAGER)
        r = await manager.get(
            "/v1/invoices",
            params={"status": "issued", "period": "2026-10", "tenant_id": str(invoice.tenant_id)},
        )
        assert [x["id"] for x in r.json()["items"]] == [str(invoice.id)]
        r = await manager.get(
            "/v1/invoices", params={"status": "paid", "tenant_id": str(invoice.tenant_id)}
        )
        assert r.json()["items"] == []

    async def test_the_pdf_reads_in_russian_with_the_totals(self, api_client: ApiClient) -> None:
        invoice = await issued_invoice()
        me = api_client(role=Role.CLIENT_ADMIN, tenant_id=invoice.tenant_id)

        r = await me.get(f"/v1/invoices/{invoice.id}/pdf")

        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
        assert f"Счёт № {invoice.number}" in text
        assert "с 1 октября 2026 г. по 31 октября 2026 г." in text
        for amount in (invoice.subtotal, invoice.tax, invoice.total):
            assert format_money(amount) in text
        assert "Абонентская плата, октябрь 2026" in text
        assert format_money(invoice.total) == "90\u202f120,00\u202f₽"
