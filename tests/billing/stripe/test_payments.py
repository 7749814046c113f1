"""Customers, payment methods and charges against localstripe."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.billing.mirrors.repository import get_customer
from services.billing.stripe import gateway, payments
from services.billing.stripe.payments import ChargeRequest
from services.billing.stripe.settings import get_stripe_settings
from shared.db.session import STAFF, session_scope
from tests.billing.stripe.conftest import (
    attempts,
    billing_events,
    billing_tenant,
    client_admin_headers,
    issued_invoice,
    load_invoice,
    stripe_api,
)


def _customers_of(base: str, tenant_id: str) -> list[dict]:
    with stripe_api(base) as api:
        data = api.get("/v1/customers", params={"limit": 100}).json()["data"]
    return [c for c in data if c.get("metadata", {}).get("tenant_id") == tenant_id]


def _payment_intents_of(base: str, customer_id: str) -> list[dict]:
    with stripe_api(base) as api:
        data = api.get("/v1/payment_intents", params={"limit": 100}).json()["data"]
    return [p for p in data if p.get("customer") == customer_id]


async def _attach(client: httpx.AsyncClient, tenant_id, pm: str) -> httpx.Response:
    return await client.post(
        "/v1/billing/payment-method",
        json={"payment_method_id": pm},
        headers=await client_admin_headers(tenant_id),
    )


class TestCustomer:
    async def test_created_once_per_tenant(self, localstripe: str) -> None:
        tenant = await billing_tenant()
        async with session_scope(STAFF) as session:
            first = await payments.ensure_stripe_customer(session, tenant.id)
        async with session_scope(STAFF) as session:
            again = await payments.ensure_stripe_customer(session, tenant.id)
            customer = await get_customer(session, tenant.id)
        assert again == first
        assert customer is not None
        assert customer.stripe_customer_id == first
        assert [c["id"] for c in _customers_of(localstripe, str(tenant.id))] == [first]

    async def test_same_idempotency_key_returns_the_same_customer(self, localstripe: str) -> None:
        tenant = await billing_tenant()
        async with session_scope(STAFF) as session:
            customer = await get_customer(session, tenant.id)
        assert customer is not None
        a = await gateway.ensure_customer(customer)  # nothing stored: both calls reach Stripe
        b = await gateway.ensure_customer(customer)
        assert a == b
        assert len(_customers_of(localstripe, str(tenant.id))) == 1


class TestPaymentMethod:
    async def test_client_admin_attaches_a_card_as_default(self, client, localstripe) -> None:
        tenant = await billing_tenant()
        r = await _attach(client, tenant.id, "pm_card_visa")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["tenant_id"] == str(tenant.id)
        assert body["last4"] == "4242"
        assert body["is_default"] is True
        with stripe_api(localstripe) as api:
            cus = api.get(f"/v1/customers/{body['stripe_customer_id']}").json()
        assert cus["invoice_settings"]["default_payment_method"] == body["stripe_payment_method_id"]

    async def test_a_card_declined_on_attach_is_402(self, client) -> None:
        tenant = await billing_tenant()
        r = await _attach(client, tenant.id, "pm_card_visa_chargeDeclined")
        assert r.status_code == 402
        assert r.json()["code"] == "payment_method_declined"

    async def test_unknown_tenant_is_404(self, client) -> None:
        from tests.support.factories import make_tenant

        tenant = await make_tenant()  # billing has not heard of it
        r = await _attach(client, tenant.id, "pm_card_visa")
        assert r.status_code == 404
        assert r.json()["code"] == "billing_customer_not_found"

    async def test_anonymous_caller_is_401(self, client) -> None:
        r = await client.post("/v1/billing/payment-method", json={"payment_method_id": "pm_x"})
        assert r.status_code == 401


class TestCharge:
    async def test_visa_pays_the_invoice_with_our_ids_in_metadata(
        self, client, localstripe
    ) -> None:
        tenant = await billing_tenant()
        assert (await _attach(client, tenant.id, "pm_card_visa")).status_code == 200
        invoice = await issued_invoice(tenant.id)

        outcome = await payments.charge_invoice(tenant.id, invoice.id)

        assert outcome.status == "succeeded"
        paid = await load_invoice(invoice.id)
        assert paid.status == "paid"
        assert paid.amount_paid == invoice.total == 1_200_000
        assert paid.payment_ref == outcome.payment_intent_id
        pi = await gateway.get_gateway().retrieve_payment(outcome.payment_intent_id or "")
        assert pi.succeeded
        assert pi.amount == 1_200_000
        assert pi.currency == "rub"
        assert pi.metadata == {
            "invoice_id": str(invoice.id),
            "tenant_id": str(tenant.id),
            "attempt": "1",
        }
        assert len(await billing_events("invoice.paid", invoice.id)) == 1
        [a] = await attempts(invoice.id)
        assert a["status"] == "succeeded"
        assert a["payment_intent_id"] == outcome.payment_intent_id

    async def test_declined_card_marks_failed_and_schedules_a_retry(self, client) -> None:
        tenant = await billing_tenant()
        assert (await _attach(client, tenant.id, "pm_card_chargeCustomerFail")).status_code == 200
        invoice = await issued_invoice(tenant.id)
        now = datetime.now(UTC)

        outcome = await payments.charge_invoice(tenant.id, invoice.id, now=now)

        assert outcome.status == "failed"
        failed = await load_invoice(invoice.id)
        assert failed.status == "payment_failed"
        assert failed.payment_attempts == 1
        assert failed.next_payment_at == now + timedelta(days=1)
        assert "card_declined" in (failed.last_payment_error or "")
        [a] = await attempts(invoice.id)
        assert a["status"] == "failed"
        assert "card_declined" in a["error"]
        assert await billing_events("invoice.paid", invoice.id) == []

    async def test_charging_twice_charges_once(self, client, localstripe) -> None:
        tenant = await billing_tenant()
        body = (await _attach(client, tenant.id, "pm_card_visa")).json()
        invoice = await issued_invoice(tenant.id)

        first = await payments.charge_invoice(tenant.id, invoice.id)
        second = await payments.charge_invoice(tenant.id, invoice.id)

        assert first.status == "succeeded"
        assert second.status == "skipped"
        assert len(_payment_intents_of(localstripe, body["stripe_customer_id"])) == 1
        assert len(await attempts(invoice.id)) == 1

    async def test_resending_an_attempt_reuses_its_payment_intent(
        self, client, localstripe
    ) -> None:
        """The idempotency key ``inv-<invoice id>-<attempt>``: a resend after a lost
        answer gets the first PaymentIntent back, not a second charge."""
        tenant = await billing_tenant()
        body = (await _attach(client, tenant.id, "pm_card_visa")).json()
        invoice = await issued_invoice(tenant.id)
        request = ChargeRequest(invoice.id, tenant.id, invoice.total, invoice.currency)
        kw = {
            "customer_id": body["stripe_customer_id"],
            "payment_method_id": body["stripe_payment_method_id"],
        }

        a = await gateway.charge(request, 1, **kw)
        b = await gateway.charge(request, 1, **kw)
        c = await gateway.charge(request, 2, **kw)

        assert a.payment_intent_id == b.payment_intent_id
        assert c.payment_intent_id != a.payment_intent_id
        assert len(_payment_intents_of(localstripe, body["stripe_customer_id"])) == 2

    async def test_a_lost_pending_attempt_is_resent_with_the_same_key(
        self, client, localstripe
    ) -> None:
        tenant = await billing_tenant()
        body = (await _attach(client, tenant.id, "pm_card_visa")).json()
        invoice = await issued_invoice(tenant.id)
        request = ChargeRequest(invoice.id, tenant.id, invoice.total, invoice.currency)
        # A worker claimed attempt 1 and charged it, then died before recording the answer.
        earlier = datetime.now(UTC) - timedelta(hours=1)
        from services.billing.stripe import repository

        async with session_scope(STAFF) as session:
            await repository.claim_attempt(
                session,
                tenant_id=tenant.id,
                invoice_id=invoice.id,
                attempt=1,
                amount=invoice.total,
                currency=invoice.currency,
                now=earlier,
            )
        lost = await gateway.charge(
            request,
            1,
            customer_id=body["stripe_customer_id"],
            payment_method_id=body["stripe_payment_method_id"],
        )

        outcome = await payments.charge_invoice(tenant.id, invoice.id)

        assert outcome.status == "succeeded"
        assert outcome.attempt == 1
        assert outcome.payment_intent_id == lost.payment_intent_id
        assert len(_payment_intents_of(localstripe, body["stripe_customer_id"])) == 1
        assert (await load_invoice(invoice.id)).status == "paid"


class TestConcurrency:
    async def test_two_workers_at_once_charge_once(self, client, localstripe) -> None:
        tenant = await billing_tenant()
        body = (await _attach(client, tenant.id, "pm_card_visa")).json()
        invoice = await issued_invoice(tenant.id)

        outcomes = await asyncio.gather(
            payments.charge_invoice(tenant.id, invoice.id),
            payments.charge_invoice(tenant.id, invoice.id),
            payments.charge_invoice(tenant.id, invoice.id),
        )

        assert sorted(o.status for o in outcomes).count("succeeded") == 1
        assert len(_payment_intents_of(localstripe, body["stripe_customer_id"])) == 1
        assert len(await attempts(invoice.id)) == 1
        assert len(await billing_events("invoice.paid", invoice.id)) == 1


class TestGatewayErrors:
    async def test_unknown_payment_method_is_rejected_422(self, client) -> None:
        tenant = await billing_tenant()
        r = await _attach(client, tenant.id, "pm_does_not_exist")
        assert r.status_code == 422
        assert r.json()["code"] == "payment_method_rejected"

    async def test_stripe_unreachable_leaves_the_attempt_pending(
        self, client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tenant = await billing_tenant()
        assert (await _attach(client, tenant.id, "pm_card_visa")).status_code == 200
        invoice = await issued_invoice(tenant.id)
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        monkeypatch.setenv("KOLOKOL_STRIPE_API_BASE", f"http://127.0.0.1:{dead}")
        get_stripe_settings.cache_clear()
        try:
            outcome = await payments.charge_invoice(tenant.id, invoice.id)
        finally:
            monkeypatch.undo()
            get_stripe_settings.cache_clear()

        assert outcome.status == "pending"
        [a] = await attempts(invoice.id)
        assert a["status"] == "pending"
        assert a["error"]
        assert (await load_invoice(invoice.id)).status == "issued"  # not a payment failure
