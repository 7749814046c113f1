"""Outbox → relay → Redis → worker → inbox, on the real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.ddl import SERVICE_SCHEMAS
from shared.db.session import STAFF, get_engine, session_scope
from shared.messaging.broker import make_broker, setup_broker
from shared.messaging.consumers import deliver, handlers_for, on_event, remove_handler
from shared.messaging.events import Envelope, new_event
from shared.messaging.outbox import publish
from shared.messaging.relay import (
    fast_path_disabled,
    outbox_lag_seconds,
    relay_once,
    wait_fast_path,
)

EFFECTS = "assignment.msg_test_effects"
WORKER_QUEUES = {"assignment", "billing"}


@pytest.fixture(scope="module")
def broker() -> RedisBroker:
    return setup_broker()


@pytest.fixture(scope="module", autouse=True)
async def _effects_table() -> None:
    async with get_engine(owner=True).begin() as conn:
        await conn.execute(
            text(f"CREATE TABLE IF NOT EXISTS {EFFECTS} (event_id uuid NOT NULL, lead_id uuid)")
        )


@pytest.fixture(autouse=True)
async def _clean(broker: RedisBroker, outbox_checked: None) -> None:
    for queue in SERVICE_SCHEMAS:
        broker.flush(queue)
    async with session_scope(STAFF) as session:
        for schema in SERVICE_SCHEMAS:
            await session.execute(text(f"DELETE FROM {schema}.outbox"))
            await session.execute(text(f"DELETE FROM {schema}.inbox"))
        await session.execute(text("DELETE FROM platform.dead_letters"))
        await session.execute(text(f"DELETE FROM {EFFECTS}"))


async def record_effect(session: AsyncSession, event: Envelope) -> None:
    """The test consumer: one row per application of a lead.received."""
    await session.execute(
        text(f"INSERT INTO {EFFECTS} (event_id, lead_id) VALUES (:e, :l)"),
        {"e": event.id, "l": event.payload["lead_id"]},
    )


FAILURES: list[UUID] = []


async def always_fail(session: AsyncSession, event: Envelope) -> None:
    await session.execute(
        text(f"INSERT INTO {EFFECTS} (event_id, lead_id) VALUES (:e, NULL)"), {"e": event.id}
    )
    FAILURES.append(event.id)
    raise RuntimeError("billing handler boom")


TEST_HANDLERS = (
    ("assignment", "lead.received", record_effect),
    ("billing", "usage.recorded", always_fail),
)


@pytest.fixture(scope="module", autouse=True)
def _handlers(broker: RedisBroker) -> Iterator[None]:
    # The services' own handlers for these types stand aside while the test ones run,
    # so these tests see only the mechanism, whatever the services do.
    stood_aside = {}
    for service, event_type, handler in TEST_HANDLERS:
        stood_aside[(service, event_type)] = handlers_for(service, event_type)
        for real in stood_aside[(service, event_type)]:
            remove_handler(service, event_type, real)
        on_event(service, event_type)(handler)
    yield
    for service, event_type, handler in TEST_HANDLERS:
        remove_handler(service, event_type, handler)
        for real in stood_aside[(service, event_type)]:
            on_event(service, event_type)(real)


@pytest.fixture(scope="module")
def worker(broker: RedisBroker, _handlers: None) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, queues=WORKER_QUEUES, worker_timeout=100, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


def lead_received() -> Envelope:
    return new_event(
        "lead.received",
        tenant_id=uuid4(),
        payload={"lead_id": str(uuid4()), "project_id": str(uuid4()), "phone": "+79990000001"},
    )


async def commit(*events: Envelope) -> None:
    async with session_scope(STAFF) as session:
        for event in events:
            await publish(session, event)


async def outbox_row(event_id: UUID) -> Any:
    async with session_scope(STAFF) as session:
        return (
            await session.execute(
                text("SELECT published_at, attempts, last_error FROM intake.outbox WHERE id = :i"),
                {"i": event_id},
            )
        ).one_or_none()


async def scalar(sql: str, **params: Any) -> Any:
    async with session_scope(STAFF) as session:
        return await session.scalar(text(sql), params)


async def effects(event_id: UUID) -> int:
    return await scalar(f"SELECT count(*) FROM {EFFECTS} WHERE event_id = :e", e=event_id)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


class TestOutbox:
    async def test_event_of_a_rolled_back_transaction_is_never_delivered(
        self, broker: RedisBroker
    ) -> None:
        event = lead_received()
        await wait_fast_path()
        broker.flush("assignment")  # what earlier tests left queued is not this test's

        async def change_that_fails() -> None:
            async with session_scope(STAFF) as session:
                await publish(session, event)
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            await change_that_fails()
        await wait_fast_path()
        assert await outbox_row(event.id) is None
        assert await relay_once() == 0
        assert broker.do_qsize("assignment") == 0

    async def test_publish_writes_to_the_producer_outbox_in_the_callers_transaction(self) -> None:
        event = lead_received()
        with fast_path_disabled():
            async with session_scope(STAFF) as session:
                await publish(session, event)
                assert (
                    await session.scalar(
                        text("SELECT event_type FROM intake.outbox WHERE id = :i"), {"i": event.id}
                    )
                    == "lead.received"
                )
                assert await scalar("SELECT count(*) FROM intake.outbox") == 0
        row = await outbox_row(event.id)
        assert row.published_at is None


class TestRelay:
    async def test_event_committed_while_redis_is_down_is_delivered_later(
        self, broker: RedisBroker, worker: dramatiq.Worker
    ) -> None:
        event = lead_received()
        down = make_broker("redis://127.0.0.1:1/0", connect_timeout=0.5)
        with fast_path_disabled():
            await commit(event)
            assert await relay_once(broker=down) == 0

            row = await outbox_row(event.id)
            assert row.published_at is None
            assert row.attempts == 1
            assert "ConnectionError" in row.last_error
            assert await outbox_lag_seconds() > 0

            assert await relay_once() == 1
        assert (await outbox_row(event.id)).published_at is not None
        assert await outbox_lag_seconds() == 0
        assert await eventually(lambda: effects(event.id)) == 1
        assert (
            await scalar("SELECT count(*) FROM assignment.inbox WHERE event_id = :e", e=event.id)
            == 1
        )

    async def test_fast_path_relays_right_after_commit(self, worker: dramatiq.Worker) -> None:
        event = lead_received()
        await commit(event)
        assert await eventually(lambda: effects(event.id), within=5) == 1
        assert (await outbox_row(event.id)).published_at is not None

    async def test_one_message_per_consumer_service(self, broker: RedisBroker) -> None:
        event = lead_received()  # consumers: onboarding (webhooks) and assignment
        await wait_fast_path()
        broker.flush("onboarding")
        with fast_path_disabled():
            await commit(event)
            assert await relay_once() == 1
        assert broker.do_qsize("onboarding") == 1
        broker.flush("onboarding")


class TestConsumers:
    async def test_redelivered_event_changes_nothing_the_second_time(
        self, broker: RedisBroker, worker: dramatiq.Worker
    ) -> None:
        event = lead_received()
        with fast_path_disabled():
            await commit(event)
            assert await relay_once() == 1
            assert await eventually(lambda: effects(event.id)) == 1
            # The relay crashed after sending but before marking: it sends again.
            await scalar(
                "UPDATE intake.outbox SET published_at = NULL WHERE id = :i RETURNING 1", i=event.id
            )
            assert await relay_once() == 1
        await asyncio.to_thread(broker.join, "assignment", timeout=10_000)
        await asyncio.to_thread(worker.join)
        assert await effects(event.id) == 1
        assert await deliver("assignment", event) is False
        assert await effects(event.id) == 1
        inbox = await scalar(
            "SELECT event_type FROM assignment.inbox WHERE event_id = :e", e=event.id
        )
        assert inbox == "lead.received"

    async def test_deliver_applies_handler_and_inbox_together(self) -> None:
        event = lead_received()
        assert await deliver("assignment", event) is True
        assert await deliver("assignment", event) is False
        assert await effects(event.id) == 1

    async def test_failing_handler_leaves_no_effect_and_no_inbox_row(self) -> None:
        event = new_event(
            "usage.recorded",
            tenant_id=uuid4(),
            payload={"usage_id": str(uuid4()), "project_id": str(uuid4()), "metric": "attempt"},
        )
        with pytest.raises(RuntimeError, match="boom"):
            await deliver("billing", event)
        assert await effects(event.id) == 0
        assert await scalar("SELECT count(*) FROM billing.inbox") == 0


class TestDeadLetters:
    async def test_failing_handler_ends_in_dead_letters_after_retries(
        self, broker: RedisBroker, worker: dramatiq.Worker
    ) -> None:
        event = new_event(
            "usage.recorded",
            tenant_id=uuid4(),
            payload={"usage_id": str(uuid4()), "project_id": str(uuid4()), "metric": "attempt"},
        )
        broker.enqueue(
            dramatiq.Message(
                queue_name="billing",
                actor_name="billing.on_usage_recorded",
                args=(event.to_builtins(),),
                kwargs={},
                options={"max_retries": 1},
            )
        )

        async def dead_letter() -> Any:
            async with session_scope(STAFF) as session:
                return (
                    await session.execute(
                        text(
                            "SELECT actor, queue, error, retries, event_type, payload"
                            " FROM platform.dead_letters WHERE event_id = :e"
                        ),
                        {"e": event.id},
                    )
                ).one_or_none()

        row = await eventually(dead_letter, within=15)
        assert row is not None
        assert row.actor == "billing.on_usage_recorded"
        assert row.queue == "billing"
        assert "billing handler boom" in row.error
        assert row.retries == 2
        assert row.event_type == "usage.recorded"
        assert row.payload["args"][0]["id"] == str(event.id)
        assert FAILURES.count(event.id) == 2  # the first attempt and one retry
        assert await effects(event.id) == 0
        assert (
            await scalar("SELECT count(*) FROM billing.inbox WHERE event_id = :e", e=event.id) == 0
        )
