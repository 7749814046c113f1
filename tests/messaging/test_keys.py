"""Outbox, inbox and audit rows are keyed by their tenant; platform rows by the sentinel.

And the relay's per-tenant conditional mark: a row another relay already published is
never sent again by a relay that picked it before.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dramatiq
import msgspec
import pytest
from sqlalchemy import text

from shared.audit.log import record
from shared.context import SYSTEM
from shared.db.session import STAFF, get_engine, session_scope
from shared.ids import PLATFORM_TENANT, new_id
from shared.messaging import relay
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, new_event
from shared.messaging.outbox import publish

KEYED = (
    *(
        f"{schema}.{table}"
        for schema in ("onboarding", "pricing", "intake", "assignment", "billing")
        for table in ("outbox", "inbox")
    ),
    "platform.audit_log",
)


class Recorder:
    """A broker that keeps what it is given (the relay only calls ``enqueue``)."""

    def __init__(self) -> None:
        self.messages: list[dramatiq.Message[Any]] = []

    def enqueue(self, message: dramatiq.Message[Any]) -> None:
        self.messages.append(message)

    def event_ids(self) -> list[str]:
        return [m.args[0]["id"] for m in self.messages]


@pytest.fixture(autouse=True)
async def _clean(outbox_checked: None) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(text("DELETE FROM intake.outbox"))
        await session.execute(text("DELETE FROM assignment.inbox"))


def lead_received(tenant_id: uuid.UUID | None) -> Envelope:
    return new_event(
        "lead.received",
        tenant_id=tenant_id,
        payload={
            "lead_id": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()),
            "phone": "+79990000001",
        },
    )


async def scalar(sql: str, **params: Any) -> Any:
    async with session_scope(STAFF) as session:
        return await session.scalar(text(sql), params)


class TestKeys:
    async def test_tenant_id_is_not_null_and_leads_the_primary_key(self) -> None:
        async with get_engine(owner=True).connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.conrelid::regclass::text, a.attname, a.attnotnull"
                        " FROM pg_constraint c JOIN pg_attribute a"
                        " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                        " WHERE c.contype = 'p' AND c.conrelid = ANY(CAST(:t AS regclass[]))"
                    ),
                    {"t": list(KEYED)},
                )
            ).all()
        assert {(table, column, notnull) for table, column, notnull in rows} == {
            (table, "tenant_id", True) for table in KEYED
        }

    async def test_outbox_rows_carry_the_tenant_and_platform_rows_the_sentinel(self) -> None:
        tenant = new_id()
        mine, platform = lead_received(tenant), lead_received(None)
        with relay.fast_path_disabled():
            async with session_scope(STAFF) as session:
                await publish(session, mine)
                await publish(session, platform)
        stored = await scalar(
            "SELECT json_object_agg(id, tenant_id) FROM intake.outbox WHERE id IN (:a, :b)",
            a=mine.id,
            b=platform.id,
        )
        assert stored == {str(mine.id): str(tenant), str(platform.id): str(PLATFORM_TENANT)}
        recorder = Recorder()
        await relay.drain(["intake"], broker=cast(dramatiq.Broker, recorder))
        sent = {m.args[0]["id"]: m.args[0]["tenant_id"] for m in recorder.messages}
        assert sent[str(platform.id)] is None  # the wire still says null
        assert sent[str(mine.id)] == str(tenant)

    async def test_inbox_rows_carry_the_events_tenant_and_time(self) -> None:
        tenant = new_id()
        mine, platform = lead_received(tenant), lead_received(None)
        for event in (mine, platform):
            assert await deliver("assignment", event) is True
        async with session_scope(STAFF) as session:
            rows = (
                await session.execute(
                    text("SELECT event_id, tenant_id, occurred_at FROM assignment.inbox")
                )
            ).all()
        assert {(r.event_id, r.tenant_id, r.occurred_at) for r in rows} == {
            (mine.id, tenant, mine.occurred_at),
            (platform.id, PLATFORM_TENANT, platform.occurred_at),
        }

    async def test_audit_rows_of_no_tenant_carry_the_sentinel(self) -> None:
        entity = new_id()
        async with session_scope(STAFF) as session:
            await record(
                session,
                SYSTEM,
                action="test.keys",
                entity="test",
                entity_id=entity,
                tenant_id=None,
                before=None,
                after={"x": 1},
            )
        assert (
            await scalar("SELECT tenant_id FROM platform.audit_log WHERE entity_id = :e", e=entity)
            == PLATFORM_TENANT
        )


class TestInboxDedupe:
    async def test_a_redelivered_event_is_applied_once(self) -> None:
        event = lead_received(new_id())
        assert await deliver("assignment", event) is True
        again = Envelope.from_builtins(event.to_builtins())  # as the broker hands it back
        assert await deliver("assignment", again) is False
        assert (
            await scalar("SELECT count(*) FROM assignment.inbox WHERE event_id = :e", e=event.id)
            == 1
        )

    async def test_redelivery_in_a_later_month_meets_the_first_row(self) -> None:
        """The key holds the event's ``occurred_at``, not the time of delivery: an event of
        last month delivered again now still finds its row, in last month's partition."""
        old = datetime.now(UTC) - timedelta(days=40)
        event = msgspec.structs.replace(lead_received(new_id()), occurred_at=old)
        assert await deliver("assignment", event) is True
        assert await deliver("assignment", event) is False
        assert (
            await scalar("SELECT count(*) FROM assignment.inbox WHERE event_id = :e", e=event.id)
            == 1
        )


class TestRelayMark:
    async def test_rows_published_by_another_relay_meanwhile_are_not_sent_again(self) -> None:
        events = [lead_received(new_id()) for _ in range(3)]
        with relay.fast_path_disabled():
            async with session_scope(STAFF) as session:
                for event in events:
                    await publish(session, event)
        stale = await relay._candidates("intake", 10)  # picked, not yet marked
        first = Recorder()
        assert await relay.relay_once(broker=cast(dramatiq.Broker, first), schemas=["intake"]) == 3
        late = Recorder()
        for tenant_id, ids in stale.items():
            assert await relay._relay_tenant(
                "intake", tenant_id, ids, cast(dramatiq.Broker, late)
            ) == (0, None)
        assert late.messages == []
        assert set(first.event_ids()) == {str(e.id) for e in events}  # one per consumer
