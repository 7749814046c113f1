"""The actor path: a webhook stored by the route is applied by ``billing.process_stripe_event``
running in a real dramatiq worker (Redis broker), with no direct call from the test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import dramatiq
import pytest

from services.billing.actors import process_stripe_event
from shared.messaging.broker import get_broker
from tests.billing.stripe.conftest import (
    billing_tenant,
    issued_invoice,
    load_invoice,
    pi_event,
    sign,
)


@pytest.fixture
def worker() -> Iterator[dramatiq.Worker]:
    broker = get_broker()
    broker.flush("billing")  # messages earlier tests enqueued without a worker
    w = dramatiq.Worker(broker, queues={"billing"}, worker_timeout=100, worker_threads=1)
    w.start()
    yield w
    w.stop()


async def test_webhook_is_applied_after_commit_by_the_actor(client, worker) -> None:
    assert process_stripe_event.actor_name == "billing.process_stripe_event"
    tenant = await billing_tenant()
    invoice = await issued_invoice(tenant.id)
    body = pi_event(
        "payment_intent.succeeded",
        invoice=invoice,
        attempt=1,
        payment_intent_id="pi_by_actor",
        created=int(time.time()),
    )
    r = await client.post(
        "/v1/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200

    for _ in range(150):  # the worker polls every 100 ms
        if (await load_invoice(invoice.id)).status == "paid":
            break
        await asyncio.sleep(0.1)

    paid = await load_invoice(invoice.id)
    assert paid.status == "paid"
    assert paid.payment_ref == "pi_by_actor"
