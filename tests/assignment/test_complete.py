"""Heartbeat and complete: the lease rules, validation, the retry policy, events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.assignment.conftest import World, outbox, task_rows
from tests.support.clients import ApiClient

WORKDAY = {
    d: {"start": "09:00", "end": "21:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


async def leased(
    world: World, api_client: ApiClient, **project: Any
) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    project_id = await world.project(**project)
    await world.lead(project_id)
    c = api_client(role=Role.OPERATOR, user_id=await world.operator())
    response = await c.post("/v1/operators/me/next-task")
    assert response.status_code == 200, response.text
    return c, response.json()


async def expire(task_id: str) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "UPDATE assignment.tasks SET lease_expires_at = now() - interval '1 second' "
                "WHERE id = :id"
            ),
            {"id": task_id},
        )


class TestHeartbeat:
    async def test_renews_the_lease(self, world: World, api_client: ApiClient) -> None:
        c, task = await leased(world, api_client)
        async with session_scope(STAFF) as session:
            await session.execute(
                text(
                    "UPDATE assignment.tasks SET lease_expires_at = now() + interval '1 minute' "
                    "WHERE id = :id"
                ),
                {"id": task["id"]},
            )
        response = await c.post(f"/v1/tasks/{task['id']}/heartbeat")
        assert response.status_code == 200
        expires = datetime.fromisoformat(response.json()["lease_expires_at"])
        assert expires - datetime.now(UTC) > timedelta(minutes=9)

    async def test_expired_lease_is_lost(self, world: World, api_client: ApiClient) -> None:
        c, task = await leased(world, api_client)
        await expire(task["id"])
        response = await c.post(f"/v1/tasks/{task['id']}/heartbeat")
        assert response.status_code == 409
        assert response.json()["code"] == "lease_lost"
        response = await c.post(
            f"/v1/tasks/{task['id']}/complete", json={"disposition": "qualified"}
        )
        assert response.status_code == 409

    async def test_another_operators_task_is_404(self, world: World, api_client: ApiClient) -> None:
        _, task = await leased(world, api_client)
        other = api_client(role=Role.OPERATOR, user_id=await world.operator())
        for verb, body in (("heartbeat", None), ("complete", {"disposition": "qualified"})):
            response = await other.post(f"/v1/tasks/{task['id']}/{verb}", json=body)
            assert response.status_code == 404
            assert response.json()["code"] == "task_not_found"


class TestComplete:
    async def test_records_attempt_and_emits_events(
        self, world: World, api_client: ApiClient
    ) -> None:
        c, task = await leased(world, api_client)
        response = await c.post(
            f"/v1/tasks/{task['id']}/complete",
            json={"disposition": "qualified", "talk_seconds": 61, "notes": "keen"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["to_stage"], body["next_step"], body["next_task"]) == (
            "qualified",
            "none",
            None,
        )
        [completed] = await outbox("task.completed", task_id=task["id"])
        assert completed["to_stage"] == "qualified"
        assert completed["disposition"] == "qualified"
        assert completed["talk_seconds"] == 61
        usage = await outbox("usage.recorded", source_id=body["attempt_id"])
        assert {u["metric"]: u["quantity"] for u in usage} == {
            "attempt": "1",
            "talk_minute": "2",
            "qualified_lead": "1",
        }
        assert len({u["usage_id"] for u in usage}) == 3

    async def test_completing_twice_is_idempotent(
        self, world: World, api_client: ApiClient
    ) -> None:
        c, task = await leased(world, api_client)
        url = f"/v1/tasks/{task['id']}/complete"
        first = await c.post(url, json={"disposition": "no_answer", "talk_seconds": 0})
        second = await c.post(url, json={"disposition": "no_answer", "talk_seconds": 0})
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert len(await outbox("task.completed", task_id=task["id"])) == 1
        assert len(await task_rows(task["lead"]["id"])) == 2  # the task and one retry

    async def test_completing_twice_at_once_records_one_attempt(
        self, world: World, api_client: ApiClient
    ) -> None:
        """No unique index keeps one attempt per task (``attempts`` is partitioned by
        month): completing locks the leased task and closes it with the attempt."""
        c, task = await leased(world, api_client)
        url = f"/v1/tasks/{task['id']}/complete"
        answers = await asyncio.gather(
            *(c.post(url, json={"disposition": "no_answer", "talk_seconds": 0}) for _ in range(2))
        )
        assert [a.status_code for a in answers] == [200, 200]
        async with session_scope(STAFF) as session:
            attempts = await session.scalar(
                text("SELECT count(*) FROM assignment.attempts WHERE task_id = :t"),
                {"t": task["id"]},
            )
        assert attempts == 1

    async def test_won_deal_needs_amount_and_is_billed(
        self, world: World, api_client: ApiClient
    ) -> None:
        c, task = await leased(world, api_client)
        url = f"/v1/tasks/{task['id']}/complete"
        response = await c.post(url, json={"disposition": "won"})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["deal_amount"]
        response = await c.post(url, json={"disposition": "won", "deal_amount": 7_512_000})
        assert response.status_code == 200
        [completed] = await outbox("task.completed", task_id=task["id"])
        assert (completed["deal_value"], completed["currency"], completed["to_stage"]) == (
            7_512_000,
            "RUB",
            "won",
        )
        usage = await outbox("usage.recorded", source_id=response.json()["attempt_id"])
        assert {u["metric"] for u in usage} == {"attempt", "won_deal"}

    async def test_unknown_disposition_and_missing_loss_reason(
        self, world: World, api_client: ApiClient
    ) -> None:
        c, task = await leased(world, api_client)
        url = f"/v1/tasks/{task['id']}/complete"
        response = await c.post(url, json={"disposition": "teleported"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "disposition"
        response = await c.post(url, json={"disposition": "not_interested"})
        assert response.json()["errors"][0]["field"] == "loss_reason"
        response = await c.post(url, json={"disposition": "not_interested", "loss_reason": "price"})
        assert response.status_code == 200
        [completed] = await outbox("task.completed", task_id=task["id"])
        assert (completed["to_stage"], completed["loss_reason"]) == ("lost", "price")

    async def test_callback_inside_window_becomes_a_callback_task(
        self, world: World, api_client: ApiClient
    ) -> None:
        c, task = await leased(world, api_client)
        await world.update_project(world.projects[-1], revision=2, window=WORKDAY)
        moscow = ZoneInfo("Europe/Moscow")
        tomorrow = (datetime.now(moscow) + timedelta(days=1)).date()
        night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, 0, tzinfo=moscow)
        url = f"/v1/tasks/{task['id']}/complete"
        response = await c.post(
            url, json={"disposition": "callback", "callback_at": night.isoformat()}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "outside_window"
        noon = night.replace(hour=12)
        response = await c.post(
            url, json={"disposition": "callback", "callback_at": noon.isoformat()}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["next_step"] == "callback"
        assert body["next_task"]["kind"] == "callback"
        assert datetime.fromisoformat(body["next_task"]["due_at"]) == noon


class TestRetryPolicy:
    async def test_retry_after_spacing(self, world: World, api_client: ApiClient) -> None:
        c, task = await leased(world, api_client)
        response = await c.post(
            f"/v1/tasks/{task['id']}/complete", json={"disposition": "no_answer"}
        )
        body = response.json()
        assert (body["next_step"], body["next_task"]["kind"], body["next_task"]["attempt"]) == (
            "retry",
            "retry",
            2,
        )
        due = datetime.fromisoformat(body["next_task"]["due_at"])
        assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(minutes=60)

    async def _attempts(
        self, world: World, api_client: ApiClient, retry: dict[str, int], n: int
    ) -> list[dict[str, Any]]:
        project = await world.project(retry=retry)
        lead = await world.lead(project)
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        bodies = []
        for _ in range(n):
            async with session_scope(STAFF) as session:  # make the next one due now
                await session.execute(
                    text(
                        "UPDATE assignment.tasks SET due_at = now(), next_allowed_at = now() "
                        "WHERE lead_id = :l AND status = 'queued'"
                    ),
                    {"l": lead},
                )
            world_claim = await c.post("/v1/operators/me/next-task")
            assert world_claim.status_code == 200, world_claim.text
            response = await c.post(
                f"/v1/tasks/{world_claim.json()['id']}/complete", json={"disposition": "no_answer"}
            )
            bodies.append(response.json())
        return bodies

    async def test_stops_at_max_attempts_per_lead(
        self, world: World, api_client: ApiClient
    ) -> None:
        bodies = await self._attempts(
            world,
            api_client,
            {"max_attempts_per_lead": 3, "max_attempts_per_day": 3, "min_spacing_minutes": 0},
            3,
        )
        assert [b["next_step"] for b in bodies] == ["retry", "retry", "none"]
        assert [b["attempt"] for b in bodies] == [1, 2, 3]

    async def test_max_attempts_per_day_moves_to_next_local_day(
        self, world: World, api_client: ApiClient
    ) -> None:
        bodies = await self._attempts(
            world,
            api_client,
            {"max_attempts_per_lead": 5, "max_attempts_per_day": 2, "min_spacing_minutes": 0},
            2,
        )
        first, second = (datetime.fromisoformat(b["next_task"]["due_at"]) for b in bodies)
        assert first - datetime.now(UTC) < timedelta(minutes=1)
        local = second.astimezone(ZoneInfo("Europe/Moscow"))
        assert (local.hour, local.minute) == (0, 0)
        assert local.date() == (datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(days=1)).date()
