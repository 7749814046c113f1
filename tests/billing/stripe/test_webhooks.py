"""``POST /v1/stripe/webhook``: signature, store-then-act, duplicates, arrival order."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from services.billing.stripe import webhooks
from shared.db.session import STAFF, session_scope
from tests.billing.stripe.conftest import (
    attempts,
    billing_events,
    billing_tenant,
    issued_invoice,
    load_invoice,
    pi_event,
    sign,
)

URL = "/v1/stripe/webhook"


def _event_id(body: bytes) -> str:
    import json

    return str(json.loads(body)["id"])


async def _post(client, body: bytes, signature: str | None = None):
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = signature if signature is not None else sign(body)
    return await client.post(URL, content=body, headers=headers)


async def _stored(event_id: str) -> list[dict]:
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text("select * from billing.stripe_events where id = :id"), {"id": event_id}
        )
        return [dict(r) for r in rows.mappings()]


async def _fresh_invoice():
    tenant = await billing_tenant()
    return await issued_invoice(tenant.id)


class TestSignature:
    async def test_valid_event_is_stored_and_answered_at_once(self, client) -> None:
        invoice = await _fresh_invoice()
        body = pi_event(
            "payment_intent.succeeded",
            invoice=invoice,
            attempt=1,
            payment_intent_id="pi_ok",
            created=int(time.time()),
        )
        r = await _post(client, body)
        assert r.status_code == 200
        assert r.json() == {"received": True, "duplicate": False}
        [row] = await _stored(_event_id(body))
        assert row["type"] == "payment_intent.succeeded"
        assert row["processed_at"] is None  # stored now, applied by the actor
        assert (await load_invoice(invoice.id)).status == "issued"

    @pytest.mark.parametrize(
        "signature",
        [
            "t=1,v1=deadbeef",
            "garbage",
            "",
        ],
    )
    async def test_bad_signature_is_400(self, client, signature: str) -> None:
        body = b'{"id": "evt_bad", "type": "payment_intent.succeeded", "data": {"object": {}}}'
        r = await _post(client, body, signature)
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "stripe_signature_invalid"
        assert await _stored("evt_bad") == []

    async def test_signed_with_another_secret_is_400(self, client) -> None:
        body = b'{"id": "evt_other", "type": "x", "data": {"object": {}}}'
        r = await _post(client, body, sign(body, secret="whsec_someone_else"))
        assert r.status_code == 400
        assert await _stored("evt_other") == []

    async def test_tampered_body_is_400(self, client) -> None:
        body = b'{"id": "evt_tamper", "type": "x", "data": {"object": {}}}'
        signature = sign(body)
        r = await _post(client, body.replace(b"x", b"y"), signature)
        assert r.status_code == 400

    async def test_expired_timestamp_is_400(self, client) -> None:
        body = b'{"id": "evt_old", "type": "x", "data": {"object": {}}}'
        r = await _post(client, body, sign(body, at=int(time.time()) - 301))
        assert r.status_code == 400
        assert await _stored("evt_old") == []

    async def test_within_tolerance_is_accepted(self, client) -> None:
        body = b'{"id": "evt_late_ok", "type": "customer.created", "data": {"object": {}}}'
        r = await _post(client, body, sign(body, at=int(time.time()) - 240))
        assert r.status_code == 200


class TestIdempotency:
    async def test_same_event_twice_pays_once(self, client) -> None:
        invoice = await _fresh_invoice()
        body = pi_event(
            "payment_intent.succeeded",
            invoice=invoice,
            attempt=1,
            payment_intent_id="pi_twice",
            created=int(time.time()),
        )
        first = await _post(client, body)
        second = await _post(client, body)
        assert first.json()["duplicate"] is False
        assert second.status_code == 200
        assert second.json()["duplicate"] is True
        assert len(await _stored(_event_id(body))) == 1

        assert await webhooks.process_event(_event_id(body)) is True
        assert await webhooks.process_event(_event_id(body)) is False

        paid = await load_invoice(invoice.id)
        assert paid.status == "paid"
        assert paid.payment_ref == "pi_twice"
        assert len(await billing_events("invoice.paid", invoice.id)) == 1
        [row] = await _stored(_event_id(body))
        assert row["processed_at"] is not None
        assert row["error"] is None

    async def test_unrelated_events_are_stored_and_marked_ignored(self, client) -> None:
        body = (
            b'{"id": "evt_cus_%s", "type": "customer.created", "created": 1,'
            b' "data": {"object": {"id": "cus_1"}}}' % uuid.uuid4().hex.encode()
        )
        assert (await _post(client, body)).status_code == 200
        assert await webhooks.process_event(_event_id(body)) is True
        [row] = await _stored(_event_id(body))
        assert row["processed_at"] is not None
        assert row["error"].startswith("ignored")

    async def test_sweep_applies_events_no_actor_applied(self, client) -> None:
        invoice = await _fresh_invoice()
        body = pi_event(
            "payment_intent.succeeded",
            invoice=invoice,
            attempt=1,
            payment_intent_id="pi_swept",
            created=int(time.time()),
        )
        assert (await _post(client, body)).status_code == 200

        summary = await webhooks.process_pending(older_than_seconds=0)

        assert summary["processed"] >= 1
        assert (await load_invoice(invoice.id)).status == "paid"


FAILED, SUCCEEDED = "payment_intent.payment_failed", "payment_intent.succeeded"


class TestArrivalOrder:
    """Two declined attempts then a successful one, delivered in every order."""

    @pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
    async def test_success_wins_whatever_the_order(self, client, order) -> None:
        invoice = await _fresh_invoice()
        t0 = int(time.time()) - 100
        facts = [
            (FAILED, 1, "pi_a1", t0),
            (FAILED, 2, "pi_a2", t0 + 10),
            (SUCCEEDED, 3, "pi_a3", t0 + 20),
        ]
        bodies = [
            pi_event(kind, invoice=invoice, attempt=n, payment_intent_id=pi, created=at)
            for kind, n, pi, at in facts
        ]
        delivered = [bodies[i] for i in order]
        for body in delivered + delivered:  # every event twice
            assert (await _post(client, body)).status_code == 200
        for body in delivered:
            await webhooks.process_event(_event_id(body))

        paid = await load_invoice(invoice.id)
        assert paid.status == "paid"
        assert paid.payment_ref == "pi_a3"
        assert paid.amount_paid == invoice.total
        assert paid.paid_at == datetime.fromtimestamp(t0 + 20, UTC)
        assert [
            (a["attempt"], a["status"], a["payment_intent_id"]) for a in await attempts(invoice.id)
        ] == [
            (1, "failed", "pi_a1"),
            (2, "failed", "pi_a2"),
            (3, "succeeded", "pi_a3"),
        ]
        assert len(await billing_events("invoice.paid", invoice.id)) == 1

    @pytest.mark.parametrize("order", [(0, 1), (1, 0)])
    async def test_failures_in_any_order_leave_the_same_schedule(self, client, order) -> None:
        invoice = await _fresh_invoice()
        t0 = int(time.time()) - 100
        bodies = [
            pi_event(FAILED, invoice=invoice, attempt=1, payment_intent_id="pi_f1", created=t0),
            pi_event(
                FAILED, invoice=invoice, attempt=2, payment_intent_id="pi_f2", created=t0 + 50
            ),
        ]
        for i in order:
            assert (await _post(client, bodies[i])).status_code == 200
            await webhooks.process_event(_event_id(bodies[i]))

        failed = await load_invoice(invoice.id)
        assert failed.status == "payment_failed"
        assert failed.payment_attempts == 2
        # retries count from the FIRST failure: attempt 2 failed → next after 3 days
        assert failed.next_payment_at == datetime.fromtimestamp(t0, UTC) + timedelta(days=3)

    async def test_a_failure_of_the_paid_attempt_changes_nothing(self, client) -> None:
        invoice = await _fresh_invoice()
        now = int(time.time())
        ok = pi_event(SUCCEEDED, invoice=invoice, attempt=1, payment_intent_id="pi_s", created=now)
        late = pi_event(
            FAILED, invoice=invoice, attempt=1, payment_intent_id="pi_s", created=now - 5
        )
        for body in (ok, late):
            await _post(client, body)
            await webhooks.process_event(_event_id(body))
        assert (await load_invoice(invoice.id)).status == "paid"
        [a] = await attempts(invoice.id)
        assert a["status"] == "succeeded"


class TestPrune:
    async def test_old_processed_events_are_pruned_unprocessed_kept(self) -> None:
        from services.billing.jobs import stripe_events_prune

        async with session_scope(STAFF) as session:
            await session.execute(
                text(
                    "insert into billing.stripe_events"
                    " (id, type, payload, received_at, processed_at)"
                    " values ('evt_prune_old', 'x', '{}', now() - interval '100 days',"
                    " now() - interval '100 days'),"
                    " ('evt_prune_pending', 'x', '{}', now() - interval '100 days', null)"
                )
            )
        summary = await stripe_events_prune()
        assert summary == {"removed": 1}
        assert await _stored("evt_prune_old") == []
        assert len(await _stored("evt_prune_pending")) == 1
