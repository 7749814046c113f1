"""Stripe's own webhook deliveries (from localstripe) pass our signature check and apply."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.billing.stripe import payments, webhooks
from tests.billing.stripe.conftest import (
    WEBHOOK_SECRET,
    attempts,
    billing_events,
    billing_tenant,
    client_admin_headers,
    issued_invoice,
    load_invoice,
    stripe_api,
)

WAIT_SECONDS = 10.0
"""localstripe waits a second before each delivery."""


class Receiver:
    """A tiny HTTP endpoint localstripe delivers to; keeps raw bodies and signatures."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries.append((await request.read(), request.headers["Stripe-Signature"]))
        return web.Response()

    async def wait_for(self, event_type: str, invoice_id: str) -> tuple[bytes, str]:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                for body, signature in self.deliveries:
                    event = json.loads(body)
                    metadata = event["data"]["object"].get("metadata") or {}
                    if event["type"] == event_type and metadata.get("invoice_id") == invoice_id:
                        return body, signature
                await asyncio.sleep(0.1)


@pytest.fixture
async def receiver(localstripe: str) -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    with stripe_api(localstripe) as api:
        r = api.post(
            "/_config/webhooks/kolokol",
            data={"url": f"http://127.0.0.1:{port}/hook", "secret": WEBHOOK_SECRET},
        )
        assert r.status_code == 200
    yield recv
    await runner.cleanup()


async def _deliver(client: httpx.AsyncClient, body: bytes, signature: str) -> dict[str, Any]:
    r = await client.post(
        "/v1/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return json.loads(body)


async def test_succeeded_and_failed_events_from_localstripe(client, receiver: Receiver) -> None:
    tenant = await billing_tenant()
    headers = await client_admin_headers(tenant.id)
    await client.post(
        "/v1/billing/payment-method",
        json={"payment_method_id": "pm_card_chargeCustomerFail"},
        headers=headers,
    )
    declined = await issued_invoice(tenant.id)
    assert (await payments.charge_invoice(tenant.id, declined.id)).status == "failed"

    event = await _deliver(
        client, *await receiver.wait_for("payment_intent.payment_failed", str(declined.id))
    )
    assert await webhooks.process_event(event["id"]) is True
    [a] = await attempts(declined.id)
    assert a["status"] == "failed"
    assert a["payment_intent_id"] == event["data"]["object"]["id"]  # learnt from the webhook

    await client.post(
        "/v1/billing/payment-method", json={"payment_method_id": "pm_card_visa"}, headers=headers
    )
    [outcome] = await payments.charge_outstanding(tenant.id)
    assert outcome.status == "succeeded"
    event = await _deliver(
        client, *await receiver.wait_for("payment_intent.succeeded", str(declined.id))
    )
    assert event["data"]["object"]["id"] == outcome.payment_intent_id
    assert await webhooks.process_event(event["id"]) is True

    paid = await load_invoice(declined.id)
    assert paid.status == "paid"
    assert paid.payment_ref == outcome.payment_intent_id
    assert len(await billing_events("invoice.paid", declined.id)) == 1
