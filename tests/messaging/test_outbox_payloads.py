"""The suite's outbox check (tests/support/outbox_payloads.py) catches each kind of drift."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import msgspec
from sqlalchemy import insert

from shared.db.session import get_engine
from shared.messaging.events import LeadReceivedV1, TaskCompletedV1, UsageRecordedV1, new_event
from shared.messaging.outbox import OUTBOX, outbox_row
from tests.support.outbox_payloads import RowProblems, payload_problem, scan_outboxes, summary


def usage_payload(**changes: object) -> dict[str, object]:
    payload = msgspec.to_builtins(
        UsageRecordedV1(
            usage_id=uuid4(), project_id=uuid4(), metric="attempt", recorded_at=datetime.now(UTC)
        )
    )
    return {**payload, **changes}


def problem(event_type: str, payload: dict[str, object], version: int = 1) -> str | None:
    return payload_problem(event_type, version, msgspec.json.encode(payload))


class TestPayloadProblem:
    def test_a_payload_written_by_new_event_is_exact(self) -> None:
        event = new_event(
            "task.completed",
            tenant_id=uuid4(),
            payload=TaskCompletedV1(task_id=uuid4(), lead_id=uuid4(), project_id=uuid4()),
        )
        assert problem(event.type, event.payload) is None
        assert problem("usage.recorded", usage_payload()) is None

    def test_a_missing_field_is_named(self) -> None:
        payload = usage_payload()
        del payload["source_id"]
        assert problem("usage.recorded", payload) == (
            "payload keys differ from UsageRecordedV1: lacks source_id"
        )

    def test_an_undeclared_field_is_named(self) -> None:
        assert problem("usage.recorded", usage_payload(unit="piece")) == (
            "payload keys differ from UsageRecordedV1: has unit, which it does not declare"
        )

    def test_a_value_of_the_wrong_type_is_refused_strictly(self) -> None:
        found = problem("task.completed", {**_task(), "attempt": "2"})
        assert found is not None
        assert found.startswith("does not decode as TaskCompletedV1: Expected `int`, got `str`")
        assert "$.attempt" in found

    def test_only_a_personal_field_may_be_missing_erasure_strips_them(self) -> None:
        lead = msgspec.to_builtins(
            LeadReceivedV1(lead_id=uuid4(), project_id=uuid4(), phone="+79161234567")
        )
        erased = {k: v for k, v in lead.items() if k != "phone"}
        assert problem("lead.received", erased) is None
        drifted = {k: v for k, v in lead.items() if k != "timezone_certain"}
        assert problem("lead.received", drifted) == (
            "payload keys differ from LeadReceivedV1: lacks timezone_certain"
        )

    def test_an_unknown_type_or_version_is_named(self) -> None:
        assert problem("lead.teleported", {}) == (
            "unknown event type (not in shared/messaging/events.py)"
        )
        assert problem("task.completed", _task(), version=9) == (
            "version 9 is not in the catalogue"
        )


def _task() -> dict[str, object]:
    return msgspec.to_builtins(
        TaskCompletedV1(task_id=uuid4(), lead_id=uuid4(), project_id=uuid4())
    )


async def test_every_outbox_of_the_database_is_scanned() -> None:
    """A drifted row in any schema's outbox is reported with its type, schema and id (the
    row is rolled back, so the end-of-run check never sees it)."""
    event = new_event("usage.recorded", tenant_id=uuid4(), payload=usage_payload())
    row = outbox_row(event) | {"payload": {**event.payload, "unit": "piece"}}
    found: RowProblems = {}
    async with get_engine(owner=True).connect() as conn:
        await conn.execute(insert(OUTBOX["assignment"]).values(row))
        await scan_outboxes(conn, found)
        await conn.rollback()
    assert [str(p) for p in summary({str(event.id): found[str(event.id)]})] == [
        "usage.recorded: payload keys differ from UsageRecordedV1: has unit, which it does not"
        f" declare (1 row(s) in assignment.outbox, e.g. id {event.id})"
    ]
