"""``POST /v1/operators/me/next-task``: routing order, fairness, skills, long poll."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from services.assignment.tasks import ready
from services.assignment.tasks.service import tasks
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.assignment.conftest import World, task_rows
from tests.support.clients import ApiClient


async def make_kind(lead_task_id: object, kind: str, due_at: datetime) -> None:
    """Turn a queued task into another kind (as a disposition would have made it)."""
    rank = {"callback": 0, "first_call": 1}.get(kind, 2)
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "UPDATE assignment.tasks SET kind = :k, class_rank = :r, due_at = :d, "
                "next_allowed_at = :d WHERE id = :id"
            ),
            {"k": kind, "r": rank, "d": due_at, "id": lead_task_id},
        )


async def claim(client: httpx.AsyncClient, wait: int = 0) -> dict[str, Any] | None:
    response = await client.post(f"/v1/operators/me/next-task?wait={wait}")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def complete(client: httpx.AsyncClient, task_id: str, disposition: str = "qualified") -> None:
    response = await client.post(f"/v1/tasks/{task_id}/complete", json={"disposition": disposition})
    assert response.status_code == 200, response.text


class TestNextTask:
    async def test_answers_task_with_lead_and_project(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        lead = await world.lead(project, number="+74957654321")
        op = await world.operator()
        got = await claim(api_client(role=Role.OPERATOR, user_id=op))
        assert got is not None
        assert got["lead"]["id"] == str(lead)
        assert got["lead"]["phone"] == "+74957654321"
        assert got["project"]["script"] == "Hello, this is Kolokol."
        assert {d["code"] for d in got["project"]["dispositions"]} >= {"qualified", "no_answer"}
        assert got["reason"].startswith("new lead")
        expires = datetime.fromisoformat(got["lease_expires_at"])
        assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
        [row] = await task_rows(lead)
        assert (row.status, row.leased_to) == ("leased", op)
        async with session_scope(STAFF) as session:
            reason = await session.scalar(
                text("SELECT reason FROM assignment.assignments WHERE task_id = :id"),
                {"id": row.id},
            )
            state = await session.scalar(
                text("SELECT state FROM assignment.operators WHERE id = :id"), {"id": op}
            )
        assert reason == got["reason"]
        assert state == "on_task"

    async def test_asking_again_answers_the_held_task(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        await world.lead(project)
        await world.lead(project)
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        first = await claim(c)
        again = await claim(c)
        assert first is not None
        assert again is not None
        assert again["id"] == first["id"]

    async def test_no_task_answers_204(self, world: World, api_client: ApiClient) -> None:
        await world.project()
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        started = time.monotonic()
        assert await claim(c, wait=0) is None
        assert time.monotonic() - started < 1

    async def test_offline_operator_is_refused(self, world: World, api_client: ApiClient) -> None:
        await world.project()
        c = api_client(role=Role.OPERATOR, user_id=await world.operator(state="break"))
        response = await c.post("/v1/operators/me/next-task")
        assert response.status_code == 409
        assert response.json()["code"] == "operator_unavailable"

    async def test_unknown_operator_is_404(self, api_client: ApiClient) -> None:
        response = await api_client(role=Role.OPERATOR).post("/v1/operators/me/next-task")
        assert response.status_code == 404
        assert response.json()["code"] == "operator_not_found"

    async def test_long_poll_wakes_when_a_lead_arrives(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        started = time.monotonic()
        poll = asyncio.create_task(claim(c, wait=10))
        await asyncio.sleep(0.3)
        lead = await world.lead(project)
        got = await poll
        assert got is not None
        assert got["lead"]["id"] == str(lead)
        assert time.monotonic() - started < 2


class TestRoutingOrder:
    async def test_callback_due_then_new_lead_then_retry(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        now = datetime.now(UTC)
        retry_lead = await world.lead(project)
        new_lead = await world.lead(project)
        callback_lead = await world.lead(project)
        [retry_task] = await task_rows(retry_lead)
        [callback_task] = await task_rows(callback_lead)
        await make_kind(retry_task.id, "retry", now - timedelta(hours=1))
        await make_kind(callback_task.id, "callback", now - timedelta(minutes=1))
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        order = []
        for _ in range(3):
            got = await claim(c)
            assert got is not None
            order.append((got["kind"], got["lead"]["id"]))
            await complete(c, got["id"])
        assert order == [
            ("callback", str(callback_lead)),
            ("first_call", str(new_lead)),
            ("retry", str(retry_lead)),
        ]

    async def test_callback_not_yet_due_waits(self, world: World, api_client: ApiClient) -> None:
        project = await world.project()
        lead = await world.lead(project)
        [task] = await task_rows(lead)
        await make_kind(task.id, "callback", datetime.now(UTC) + timedelta(hours=1))
        c = api_client(role=Role.OPERATOR, user_id=await world.operator())
        assert await claim(c) is None

    async def test_big_import_does_not_starve_another_tenant(self, api_client: ApiClient) -> None:
        a, b = World(), World()
        project_a = await a.project()
        received = datetime.now(UTC) - timedelta(seconds=30)
        async with session_scope(STAFF) as session:
            await session.execute(
                text(
                    """
                    INSERT INTO assignment.tasks (tenant_id, id, project_id, lead_id, kind,
                        class_rank, status, phone_e164, zones, priority, attempt, received_at,
                        due_at, next_allowed_at, window_closes_at)
                    SELECT :t, gen_random_uuid(), :p, gen_random_uuid(), 'first_call', 1,
                           'queued', '+74950000000', ARRAY['Europe/Moscow'], 30, 1,
                           CAST(:r AS timestamptz) + make_interval(secs => g / 100.0), :r, :r,
                           now() + interval '1 day'
                      FROM generate_series(1, 1000) g
                    """
                ),
                {"t": a.tenant_id, "p": project_a, "r": received},
            )
        ready.mark_dirty()
        project_b = await b.project()
        op_a = await a.operator(projects=[project_a, project_b])
        c = api_client(role=Role.OPERATOR, user_id=op_a)
        for _ in range(3):  # A's import is being worked
            got = await claim(c)
            assert got is not None
            assert got["tenant_id"] == str(a.tenant_id)
            await complete(c, got["id"])
        lead_b = await b.lead(project_b)
        tenants = []
        for _ in range(3):
            got = await claim(c)
            assert got is not None
            tenants.append(got["tenant_id"])
            await complete(c, got["id"])
            if got["lead"]["id"] == str(lead_b):
                break
        assert str(b.tenant_id) in tenants, tenants
        assert len(tenants) <= 2

    async def test_operator_gets_only_projects_whose_skills_they_have(
        self, world: World, api_client: ApiClient
    ) -> None:
        sales = await world.project(required_skills=["sales"])
        plain = await world.project()
        sales_lead = await world.lead(sales)
        plain_lead = await world.lead(plain)
        novice = api_client(role=Role.OPERATOR, user_id=await world.operator(skills=[]))
        got = await claim(novice)
        assert got is not None
        assert got["lead"]["id"] == str(plain_lead)
        await complete(novice, got["id"])
        assert await claim(novice) is None
        seller = api_client(
            role=Role.OPERATOR, user_id=await world.operator(skills=["sales", "english"])
        )
        got = await claim(seller)
        assert got is not None
        assert got["lead"]["id"] == str(sales_lead)


async def test_service_claim_once_without_http(world: World) -> None:
    project = await world.project()
    lead = await world.lead(project)
    op = await world.operator()
    leased = await tasks.claim_once(op)
    assert leased is not None
    assert leased.lead.id == lead
