"""Stage history from task.completed, client outcomes, erasure (issue points 7 and 8)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.intake.leads.stages import Stage, can_move
from shared.db.session import STAFF, session_scope
from shared.messaging.consumers import deliver
from shared.messaging.events import TaskCompletedV1, new_event
from shared.messaging.outbox import envelope_from_row
from tests.intake.conftest import World, fresh_phone, rows
from tests.support.clients import ApiClient

# Later than any lead the tests create, however long the suite has run before them.
T0 = datetime.now(UTC) + timedelta(days=1)


async def new_lead(world: World, client: Any, **extra: object) -> dict[str, Any]:
    r = await client.post(
        "/v1/leads",
        json={"project_id": str(world.project_id), "phone": fresh_phone(), **extra},
    )
    assert r.status_code == 201, r.text
    lead: dict[str, Any] = r.json()
    return lead


async def complete(
    world: World, lead: dict[str, Any], to_stage: str | None, at: datetime, attempt: int = 1
) -> uuid.UUID:
    event = new_event(
        "task.completed",
        tenant_id=world.id,
        payload=TaskCompletedV1(
            task_id=uuid.uuid4(),
            lead_id=uuid.UUID(lead["id"]),
            project_id=world.project_id,
            attempt=attempt,
            disposition="called",
            to_stage=to_stage,
            completed_at=at,
        ),
    )
    await deliver("intake", event)
    return event.id


async def stage_events(lead_id: str) -> list[dict[str, Any]]:
    found = await rows(
        "select payload from intake.outbox where event_type = 'lead.stage_changed'"
        " and payload->>'lead_id' = :id order by created_at, id",
        id=lead_id,
    )
    return [r["payload"] for r in found]


class TestTaskCompleted:
    async def test_applies_stages_in_order_and_records_history(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        await complete(world_a, lead, "in_progress", T0, attempt=1)
        await complete(world_a, lead, "qualified", T0 + timedelta(hours=2), attempt=2)
        detail = (await client.get(f"/v1/leads/{lead['id']}")).json()
        assert detail["stage"] == "qualified"
        changes = [(h["from_stage"], h["to_stage"]) for h in detail["history"][1:]]
        assert changes == [("new", "in_progress"), ("in_progress", "qualified")]
        assert detail["attempts"]["count"] == 2
        assert [(e["from_stage"], e["to_stage"]) for e in await stage_events(lead["id"])] == changes

    async def test_late_event_does_not_move_lead_back(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        await complete(world_a, lead, "lost", T0 + timedelta(hours=3), attempt=3)
        await complete(world_a, lead, "contacted", T0 + timedelta(hours=1), attempt=2)
        detail = (await client.get(f"/v1/leads/{lead['id']}")).json()
        assert detail["stage"] == "lost"
        assert detail["attempts"]["count"] == 2
        assert len(await stage_events(lead["id"])) == 1

    async def test_repeated_event_is_applied_once(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        event = new_event(
            "task.completed",
            tenant_id=world_a.id,
            payload=TaskCompletedV1(
                task_id=uuid.uuid4(),
                lead_id=uuid.UUID(lead["id"]),
                project_id=world_a.project_id,
                to_stage="contacted",
                completed_at=T0,
            ),
        )
        assert await deliver("intake", event) is True
        assert await deliver("intake", event) is False
        detail = (await client.get(f"/v1/leads/{lead['id']}")).json()
        assert detail["attempts"]["count"] == 1

    def test_machine_never_steps_back_along_the_main_path(self) -> None:
        assert can_move(Stage.NEW, Stage.QUALIFIED)
        assert not can_move(Stage.QUALIFIED, Stage.IN_PROGRESS)
        assert can_move(Stage.PROPOSAL, Stage.LOST)
        assert can_move(Stage.LOST, Stage.WON)
        assert not can_move(Stage.WON, Stage.LOST)
        assert not can_move(Stage.DO_NOT_CALL, Stage.CONTACTED)


class TestOutcome:
    async def test_won_with_amount(self, world_a: World, api_client: ApiClient) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        r = await client.post(
            f"/v1/leads/{lead['id']}/outcome",
            json={"outcome": "won", "amount": 7_512_000, "currency": "RUB"},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["stage"], r.json()["deal_value"]) == ("won", 7_512_000)
        (event,) = await stage_events(lead["id"])
        assert (event["to_stage"], event["deal_value"], event["currency"]) == (
            "won",
            7_512_000,
            "RUB",
        )

    async def test_lost_needs_reason_and_won_needs_amount(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        r = await client.post(f"/v1/leads/{lead['id']}/outcome", json={"outcome": "lost"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "reason"
        r = await client.post(f"/v1/leads/{lead['id']}/outcome", json={"outcome": "won"})
        assert {e["field"] for e in r.json()["errors"]} == {"amount"}
        r = await client.post(
            f"/v1/leads/{lead['id']}/outcome", json={"outcome": "lost", "reason": "price"}
        )
        assert r.json()["loss_reason"] == "price"
        r = await client.post(
            f"/v1/leads/{lead['id']}/outcome",
            json={"outcome": "won", "amount": 100, "currency": "RUB"},
        )
        assert r.json()["stage"] == "won"
        r = await client.post(
            f"/v1/leads/{lead['id']}/outcome", json={"outcome": "lost", "reason": "price"}
        )
        assert r.status_code == 409
        assert r.json()["code"] == "illegal_stage_transition"


class TestErasure:
    async def test_erasure_leaves_no_phone_in_intake(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        key = f"k-{uuid.uuid4()}"
        lead = await new_lead(
            world_a,
            client,
            name="Anna",
            email="anna@example.test",
            comment="call after 6",
            fields={"budget": "1m"},
            external_id="crm-erase-1",
        )
        phone = lead["phone"]
        await client.post(
            "/v1/leads",
            json={"project_id": str(world_a.project_id), "phone": phone, "source": "again"},
            headers={"Idempotency-Key": key},
        )
        await client.post(
            f"/v1/leads/{lead['id']}/outcome",
            json={"outcome": "lost", "reason": "no budget", "note": f"said {phone} is wrong"},
        )
        r = await client.delete(f"/v1/leads/{lead['id']}")
        assert r.status_code == 204

        tables = await rows(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'intake' and data_type in ('text', 'jsonb', 'bytea',"
            " 'character', 'character varying', 'ARRAY')"
        )
        digits = phone.lstrip("+")
        for t in tables:
            found = await rows(
                f"select 1 from intake.{t['table_name']}"
                f" where {t['column_name']}::text like :p or {t['column_name']}::text like :d",
                p=f"%{phone}%",
                d=f"%{digits}%",
            )
            assert not found, f"phone left in intake.{t['table_name']}.{t['column_name']}"

        detail = (await client.get(f"/v1/leads/{lead['id']}")).json()
        assert detail["phone"] is None
        assert detail["name"] is None
        assert detail["fields"] is None
        assert detail["stage"] == "lost"
        assert detail["external_id"] == "crm-erase-1"
        assert detail["history"][-1]["kind"] == "erased"
        assert all(h["note"] is None for h in detail["history"])
        erased = await rows(
            "select payload from intake.outbox where event_type = 'lead.erased'"
            " and payload->>'lead_id' = :id",
            id=lead["id"],
        )
        assert len(erased) == 1
        replay = await client.post(
            "/v1/leads",
            json={"project_id": str(world_a.project_id), "phone": phone, "source": "again"},
            headers={"Idempotency-Key": key},
        )
        assert replay.status_code == 410
        again = await client.post(
            "/v1/leads", json={"project_id": str(world_a.project_id), "phone": phone}
        )
        assert again.status_code == 201
        assert again.json()["id"] != lead["id"]
        assert (await client.delete(f"/v1/leads/{lead['id']}")).status_code == 204


class TestFinalStageEndsCalling:
    """Intake → assignment through the events: a lead the client closes is not called again."""

    async def relay_to_assignment(self, lead_id: str, event_type: str) -> None:
        """Deliver the lead's ``event_type`` events from intake's outbox to assignment."""
        import services.assignment.actors  # noqa: F401  (registers assignment's consumers)

        async with session_scope(STAFF) as session:
            found = (
                await session.execute(
                    text(
                        "select * from intake.outbox where event_type = :t"
                        " and payload->>'lead_id' = :id order by created_at, id"
                    ),
                    {"t": event_type, "id": lead_id},
                )
            ).all()
        assert found, f"no {event_type} for lead {lead_id}"
        for row in found:
            await deliver("assignment", envelope_from_row(row))

    async def pending_tasks(self, lead_id: str) -> list[dict[str, Any]]:
        return await rows(
            "select status, cancel_reason from assignment.tasks where lead_id = :id",
            id=uuid.UUID(lead_id),
        )

    @pytest.mark.parametrize(
        ("outcome", "final"),
        [
            ({"outcome": "won", "amount": 100, "currency": "RUB"}, "won"),
            ({"outcome": "lost", "reason": "price"}, "lost"),
        ],
        ids=["won", "lost"],
    )
    async def test_client_outcome_cancels_the_pending_call(
        self, world_a: World, api_client: ApiClient, outcome: dict[str, Any], final: str
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        await self.relay_to_assignment(lead["id"], "lead.received")
        assert [t["status"] for t in await self.pending_tasks(lead["id"])] == ["queued"]
        r = await client.post(f"/v1/leads/{lead['id']}/outcome", json=outcome)
        assert r.status_code == 200, r.text
        await self.relay_to_assignment(lead["id"], "lead.stage_changed")
        assert await self.pending_tasks(lead["id"]) == [
            {"status": "cancelled", "cancel_reason": f"lead_{final}"}
        ]

    async def test_a_step_that_is_not_final_keeps_the_call(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = await new_lead(world_a, client)
        await self.relay_to_assignment(lead["id"], "lead.received")
        await complete(world_a, lead, "contacted", T0)
        await self.relay_to_assignment(lead["id"], "lead.stage_changed")
        assert [t["status"] for t in await self.pending_tasks(lead["id"])] == ["queued"]
