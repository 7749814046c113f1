"""Event → stored delivery → signed POST to a real local receiver, retries, redirects, death."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from services.onboarding import actors
from services.onboarding.webhooks import retry
from services.onboarding.webhooks.delivery import WebhookSender
from services.onboarding.webhooks.dispatch import deliver_batch, deliver_due
from services.onboarding.webhooks.models import WebhookDelivery, WebhookEndpoint
from services.onboarding.webhooks.repository import repository
from services.onboarding.webhooks.signing import verify
from shared.config import Settings, get_settings
from shared.context import Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import new_event
from tests.onboarding.webhooks.conftest import bearer
from tests.onboarding.webhooks.receiver import Receiver
from tests.support.log_canary import NAME as CANARY_NAME
from tests.support.log_canary import PHONE as CANARY_PHONE
from tests.support.log_canary import assert_no_canary, everything_logged
from tests.support.together import meet_after

PHONE = "+79161234567"


async def register(client, tenant_id, url, event_types=("lead.received",)) -> dict:
    response = await client.post(
        f"/v1/tenants/{tenant_id}/webhooks",
        json={"url": url, "event_types": list(event_types)},
        headers=bearer(Role.CLIENT_ADMIN, tenant_id),
    )
    assert response.status_code == 201, response.text
    return response.json()


def lead_received(tenant_id: uuid.UUID):
    return new_event(
        "lead.received",
        tenant_id=tenant_id,
        payload={
            "lead_id": str(new_id()),
            "project_id": str(new_id()),
            "external_id": "crm-123",
            "phone": PHONE,
            "timezone": "Europe/Moscow",
        },
    )


async def deliveries_of(endpoint_id) -> list[WebhookDelivery]:
    async with session_scope(STAFF) as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == uuid.UUID(str(endpoint_id)))
            .order_by(WebhookDelivery.created_at)
        )
        return list(rows.all())


async def one_delivery(endpoint_id) -> WebhookDelivery:
    rows = await deliveries_of(endpoint_id)
    assert len(rows) == 1
    return rows[0]


class TestEventToWebhook:
    async def test_subscribed_endpoint_receives_signed_body_without_personal_data(
        self, client, tenant_id, receiver
    ) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        other = await register(client, tenant_id, receiver.url("/other"), ["invoice.paid"])
        event = lead_received(tenant_id)

        assert await deliver("onboarding", event)  # the consumer path: inbox + handlers
        delivery = await one_delivery(endpoint["id"])
        assert await deliveries_of(other["id"]) == []  # not subscribed to lead.received

        counts = await deliver_batch(ids=[delivery.id])
        assert counts["succeeded"] == 1
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        assert request.path == "/hook"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["kolokol-event-id"] == str(event.id)
        assert request.headers["kolokol-event-type"] == "lead.received"
        assert verify(endpoint["secret"], request.headers["kolokol-signature"], request.body)
        assert not verify("whsec_wrong", request.headers["kolokol-signature"], request.body)

        body = json.loads(request.body)
        assert body["id"] == str(event.id)
        assert body["type"] == "lead.received"
        assert body["tenant_id"] == str(tenant_id)
        assert body["payload"]["external_id"] == "crm-123"
        assert "phone" not in body["payload"]
        assert PHONE.encode() not in request.body
        assert "timezone" not in body["payload"]

        done = await one_delivery(endpoint["id"])
        assert (done.status, done.attempts, done.last_status_code) == ("succeeded", 1, 200)
        assert done.body.encode() == request.body  # the stored body is what was sent

    async def test_same_event_twice_makes_one_delivery(self, client, tenant_id, receiver) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        event = lead_received(tenant_id)
        for _ in range(2):  # past the inbox: the table's own uniqueness holds too
            async with session_scope(STAFF) as session:
                await actors.on_webhook_event(session, event)
        assert await deliver("onboarding", event)
        assert not await deliver("onboarding", event)
        assert len(await deliveries_of(endpoint["id"])) == 1

    async def test_disabled_endpoint_and_other_tenant_get_nothing(
        self, client, make_tenant, receiver
    ) -> None:
        tenant_a, tenant_b = await make_tenant(), await make_tenant()
        endpoint = await register(client, tenant_a, receiver.url())
        await client.patch(
            f"/v1/tenants/{tenant_a}/webhooks/{endpoint['id']}",
            json={"enabled": False},
            headers=bearer(Role.CLIENT_ADMIN, tenant_a),
        )
        foreign = await register(client, tenant_b, receiver.url())
        await deliver("onboarding", lead_received(tenant_a))
        assert await deliveries_of(endpoint["id"]) == []
        assert await deliveries_of(foreign["id"]) == []


class TestActor:
    async def test_new_deliveries_go_to_the_deliver_actor_after_commit(
        self, client, tenant_id, receiver
    ) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        delivery = await one_delivery(endpoint["id"])

        redis = aioredis.Redis.from_url(get_settings().redis_url)
        try:
            queued = await redis.hvals("dramatiq:onboarding.msgs")
        finally:
            await redis.aclose()
        messages = [json.loads(m) for m in queued]
        assert actors.deliver_webhook.actor_name == "onboarding.deliver_webhook"
        assert any(
            m["actor_name"] == "onboarding.deliver_webhook" and m["args"] == [[str(delivery.id)]]
            for m in messages
        )

        await actors.deliver_now([str(delivery.id)])  # what the worker runs
        row = await one_delivery(endpoint["id"])
        assert (row.status, row.attempts) == ("succeeded", 1)
        await actors.deliver_now([str(delivery.id)])  # a repeat sends nothing more
        assert len(receiver.requests) == 1


class TestRetries:
    async def test_500_then_200_is_retried_and_succeeds_on_the_second_attempt(
        self, client, tenant_id, receiver
    ) -> None:
        receiver.statuses = [500, 200]
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        delivery = await one_delivery(endpoint["id"])
        t0 = utcnow()

        await deliver_batch(now=t0, ids=[delivery.id])
        failed = await one_delivery(endpoint["id"])
        assert (failed.status, failed.attempts, failed.last_status_code) == ("failed", 1, 500)
        assert (failed.last_error or "").startswith("HTTP 500")
        assert failed.next_attempt_at is not None
        assert t0 + timedelta(seconds=25) < failed.next_attempt_at < t0 + timedelta(seconds=35)

        assert (await deliver_batch(now=t0 + timedelta(seconds=5), ids=[delivery.id]))[
            "claimed"
        ] == 0  # not due yet
        await deliver_batch(now=failed.next_attempt_at, ids=[delivery.id])
        done = await one_delivery(endpoint["id"])
        assert (done.status, done.attempts, done.last_status_code) == ("succeeded", 2, 200)
        assert done.last_error is None
        assert done.next_attempt_at is None
        assert len(receiver.requests) == 2
        assert receiver.requests[0].body == receiver.requests[1].body

    async def test_redirect_is_a_failure_and_is_not_followed(
        self, client, tenant_id, receiver
    ) -> None:
        receiver.statuses = [302]
        receiver.extra_headers = {"Location": receiver.url("/elsewhere")}
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        delivery = await one_delivery(endpoint["id"])

        await deliver_batch(ids=[delivery.id])
        row = await one_delivery(endpoint["id"])
        assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 302)
        assert row.last_error is not None
        assert "redirect" in row.last_error
        assert [r.path for r in receiver.requests] == ["/hook"]

    async def test_failing_for_more_than_a_day_ends_dead(self, client, tenant_id, receiver) -> None:
        receiver.statuses = [503]
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        delivery = await one_delivery(endpoint["id"])
        clock = utcnow()
        for _ in range(40):
            await deliver_batch(now=clock, ids=[delivery.id])
            row = await one_delivery(endpoint["id"])
            if row.status == "dead":
                break
            assert row.status == "failed"
            assert row.next_attempt_at is not None
            clock = row.next_attempt_at
        assert row.status == "dead"
        assert row.attempts >= retry.MIN_ATTEMPTS
        assert row.last_attempted_at is not None
        assert row.first_attempted_at is not None
        assert row.last_attempted_at - row.first_attempted_at > timedelta(hours=24)
        assert row.next_attempt_at is None
        assert row.last_status_code == 503
        assert len(receiver.requests) == row.attempts
        # a dead delivery is never picked again
        assert (await deliver_batch(now=clock + timedelta(days=3), ids=[delivery.id]))[
            "claimed"
        ] == 0

    async def test_url_is_checked_again_at_delivery_time(self, client, tenant_id, receiver) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        delivery = await one_delivery(endpoint["id"])
        strict = WebhookSender(
            Settings(**{**get_settings().__dict__, "webhook_allow_loopback": False})
        )

        await deliver_batch(ids=[delivery.id], sender=strict)
        row = await one_delivery(endpoint["id"])
        assert row.status == "failed"
        assert row.last_status_code is None
        assert (row.last_error or "").startswith("refused")
        assert receiver.requests == []

    async def test_sweep_job_sends_due_deliveries(self, client, tenant_id, receiver) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        summary = await deliver_due()
        assert summary["claimed"] >= 1
        row = await one_delivery(endpoint["id"])
        assert row.status == "succeeded"
        assert len(receiver.requests) == 1

    async def test_two_sweeps_at_once_send_each_delivery_once(
        self, client, tenant_id, receiver, monkeypatch
    ) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        for _ in range(3):
            await deliver("onboarding", lead_received(tenant_id))
        ids = [row.id for row in await deliveries_of(endpoint["id"])]
        meet_after(monkeypatch, repository, "due_candidates")  # both read all three

        first, second = await asyncio.gather(deliver_batch(ids=ids), deliver_batch(ids=ids))

        assert first["claimed"] + second["claimed"] == 3
        assert len(receiver.requests) == 3
        assert {row.status for row in await deliveries_of(endpoint["id"])} == {"succeeded"}


class TestRoutes:
    async def test_ping_and_delivery_log(self, client, tenant_id, receiver) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        headers = bearer(Role.CLIENT_ADMIN, tenant_id)
        base = f"/v1/tenants/{tenant_id}/webhooks/{endpoint['id']}"

        ping = await client.post(f"{base}/test", headers=headers)
        assert ping.status_code == 200, ping.text
        assert ping.json()["event_type"] == "webhook.test"
        assert ping.json()["status"] == "succeeded"
        request = receiver.requests[0]
        assert request.headers["kolokol-event-type"] == "webhook.test"
        assert verify(endpoint["secret"], request.headers["kolokol-signature"], request.body)

        for _ in range(3):
            await deliver("onboarding", lead_received(tenant_id))
        page = await client.get(f"{base}/deliveries?limit=2", headers=headers)
        assert page.status_code == 200
        first = page.json()
        assert len(first["items"]) == 2
        assert first["next_cursor"]
        rest = await client.get(
            f"{base}/deliveries?limit=2&cursor={first['next_cursor']}", headers=headers
        )
        items = first["items"] + rest.json()["items"]
        assert rest.json()["next_cursor"] is None
        assert len({i["id"] for i in items}) == 4
        assert {i["status"] for i in items} == {"succeeded", "pending"}
        item = next(i for i in items if i["status"] == "pending")
        assert set(item) >= {
            "event_id",
            "event_type",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
        }
        pending = await client.get(f"{base}/deliveries?status=pending", headers=headers)
        assert len(pending.json()["items"]) == 3

    async def test_deleting_an_endpoint_removes_its_log(self, client, tenant_id, receiver) -> None:
        endpoint = await register(client, tenant_id, receiver.url())
        await deliver("onboarding", lead_received(tenant_id))
        await client.delete(
            f"/v1/tenants/{tenant_id}/webhooks/{endpoint['id']}",
            headers=bearer(Role.CLIENT_ADMIN, tenant_id),
        )
        assert await deliveries_of(endpoint["id"]) == []
        async with session_scope(STAFF) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookEndpoint)
                .where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
            )
        assert count == 0


@pytest.fixture
def tls_cert(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` (and only that name)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class TestTls:
    """The sender connects to the checked IP but verifies TLS for the registered host name."""

    async def test_https_to_a_host_name_is_pinned_and_verified(self, tls_cert) -> None:
        cert, key = tls_cert
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        receiver = await Receiver(tls=server_tls).start()
        try:
            trusting = ssl.create_default_context(cafile=str(cert))
            sender = WebhookSender(get_settings(), tls_context=trusting)
            ok = await sender.send(
                url=receiver.url(host="localhost"),
                secret="whsec_t",
                body=b"{}",
                event_id=new_id(),
                event_type="lead.received",
            )
            assert ok.ok, ok.error
            assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"
            # the certificate names localhost, not 127.0.0.1: verification is real
            wrong_name = await sender.send(
                url=receiver.url(host="127.0.0.1"),
                secret="whsec_t",
                body=b"{}",
                event_id=new_id(),
                event_type="lead.received",
            )
            assert not wrong_name.ok
            untrusted = await WebhookSender(get_settings()).send(
                url=receiver.url(host="localhost"),
                secret="whsec_t",
                body=b"{}",
                event_id=new_id(),
                event_type="lead.received",
            )
            assert not untrusted.ok
            assert len(receiver.requests) == 1
        finally:
            await receiver.stop()


class TestNoPersonalDataInLogs:
    async def test_failed_deliveries_log_no_phone_or_name(
        self, client, tenant_id, receiver, settings: Settings, request: pytest.FixtureRequest
    ) -> None:
        """A receiver answering 500 and one refusing the connection: the canary lead's
        phone and name reach no log line (issue #12, point 1; tests/support/log_canary.py)."""
        receiver.statuses = [500]
        failing = await register(client, tenant_id, receiver.url())
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        refused = await register(client, tenant_id, f"http://127.0.0.1:{closed_port}/hook")
        event = new_event(
            "lead.received",
            tenant_id=tenant_id,
            payload={
                "lead_id": str(new_id()),
                "project_id": str(new_id()),
                "external_id": CANARY_NAME,
                "phone": CANARY_PHONE,
                "timezone": "Europe/Moscow",
            },
        )
        with everything_logged(settings, request) as logged:
            assert await deliver("onboarding", event)
            ids = [(await one_delivery(e["id"])).id for e in (failing, refused)]
            counts = await deliver_batch(ids=ids)
            output = logged()
        assert counts["succeeded"] == 0
        assert [(await one_delivery(e["id"])).status for e in (failing, refused)] == [
            "failed",
            "failed",
        ]
        assert output  # the capture works
        assert_no_canary(output)
