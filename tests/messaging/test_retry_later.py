"""An expected ordering race retries quietly: no error line, no traceback.

Billing hears of usage before the tenant's ``tenant.created`` (the first start does this
every time): the consumer raises ``CustomerNotMirrored``, a ``RetryLater``; the worker
retries it with backoff and applies it once the customer exists, and nothing above a
debug or info line is logged on the way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import text

import services.billing.actors  # noqa: F401  (registers billing's consumers)
from services.billing.errors import CustomerNotMirrored
from shared.db.session import STAFF, session_scope
from shared.messaging.broker import setup_broker
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, new_event
from shared.messaging.retry import RetryLater


@pytest.fixture(scope="module")
def broker() -> RedisBroker:
    broker = setup_broker()
    broker.flush("billing")
    return broker


@pytest.fixture
def worker(broker: RedisBroker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, queues={"billing"}, worker_timeout=100, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


def tenant_created(tenant_id: uuid.UUID) -> Envelope:
    return new_event(
        "tenant.created",
        tenant_id=tenant_id,
        payload={
            "tenant_id": str(tenant_id),
            "slug": f"t-{tenant_id.hex[:8]}",
            "status": "active",
            "currency": "RUB",
            "name": "Retry Later LLC",
            "legal_name": "Retry Later LLC",
            "inn": "7700000000",
        },
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> bool:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def applied(event_id: uuid.UUID) -> bool:
    async with session_scope(STAFF) as session:
        found = await session.scalar(
            text("SELECT count(*) FROM billing.inbox WHERE event_id = :e"), {"e": event_id}
        )
    return bool(found)


def test_not_mirrored_is_an_expected_retry() -> None:
    assert issubclass(CustomerNotMirrored, RetryLater)


async def test_usage_before_its_tenant_is_retried_quietly_then_applied(
    broker: RedisBroker, worker: dramatiq.Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant_id = uuid.uuid4()
    usage = new_event(
        "usage.recorded",
        tenant_id=tenant_id,
        payload={
            "usage_id": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()),
            "metric": "attempt",
        },
    )
    broker.enqueue(
        dramatiq.Message(
            queue_name="billing",
            actor_name="billing.on_usage_recorded",
            args=(usage.to_builtins(),),
            kwargs={},
            options={"max_retries": 5},
        )
    )

    async def tried() -> bool:
        return "retried later" in caplog.text

    assert await eventually(tried, within=10)  # the first attempt found no customer
    assert not await applied(usage.id)

    await deliver("billing", tenant_created(tenant_id))
    assert await eventually(lambda: applied(usage.id), within=15)

    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    assert "Traceback" not in caplog.text
    [quiet] = [r for r in caplog.records if "retried later" in r.getMessage()]
    assert quiet.levelno == logging.DEBUG
