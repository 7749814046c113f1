"""``/v1/operators``: profiles, state and its log, today's figures."""

from __future__ import annotations

from sqlalchemy import text

from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.assignment.conftest import World
from tests.support.clients import ApiClient


class TestManagers:
    async def test_list_shows_state_and_today(self, world: World, api_client: ApiClient) -> None:
        project = await world.project()
        await world.lead(project)
        op = await world.operator()
        oc = api_client(role=Role.OPERATOR, user_id=op)
        task = (await oc.post("/v1/operators/me/next-task")).json()
        await oc.post(
            f"/v1/tasks/{task['id']}/complete",
            json={"disposition": "no_answer", "talk_seconds": 40},
        )
        am = api_client(role=Role.ACCOUNT_MANAGER)
        response = await am.get("/v1/operators", params={"limit": 500})
        assert response.status_code == 200
        [me] = [o for o in response.json()["items"] if o["id"] == str(op)]
        assert me["state"] == "available"
        assert me["today"]["tasks"] == 1
        assert me["today"]["talk_seconds"] == 40
        assert me["today"]["outcomes"] == {"no_answer": 1}
        assert set(me["today"]["seconds_in_state"]) >= {"available", "on_task"}

    async def test_patch_skills_projects_languages(
        self, world: World, api_client: ApiClient
    ) -> None:
        op = await world.operator()
        project = await world.project()
        am = api_client(role=Role.ACCOUNT_MANAGER)
        response = await am.patch(
            f"/v1/operators/{op}",
            json={
                "skills": ["sales", "english"],
                "project_ids": [str(project)],
                "languages": ["ru"],
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["skills"] == ["english", "sales"]
        assert body["project_ids"] == [str(project)]
        assert body["languages"] == ["ru"]

    async def test_operators_cannot_manage(self, world: World, api_client: ApiClient) -> None:
        op = await world.operator()
        response = await api_client(role=Role.OPERATOR, user_id=op).get("/v1/operators")
        assert response.status_code == 403
        response = await api_client(role=Role.CLIENT_ADMIN, tenant_id=new_id()).get("/v1/operators")
        assert response.status_code == 403

    async def test_unknown_operator_404(self, api_client: ApiClient) -> None:
        am = api_client(role=Role.ACCOUNT_MANAGER)
        response = await am.get("/v1/operators/01900000-0000-7000-8000-000000000000")
        assert response.status_code == 404


class TestMyState:
    async def test_state_changes_are_logged(self, world: World, api_client: ApiClient) -> None:
        op = await world.operator(state="offline")
        oc = api_client(role=Role.OPERATOR, user_id=op)
        for state in ("available", "break", "available"):
            response = await oc.post("/v1/operators/me/state", json={"state": state})
            assert response.status_code == 200
            assert response.json()["state"] == state
        am = api_client(role=Role.ACCOUNT_MANAGER)
        spans = (await am.get(f"/v1/operators/{op}/states")).json()
        assert [s["state"] for s in spans] == ["offline", "available", "break", "available"]
        assert all(s["ended_at"] for s in spans[:-1])
        assert spans[-1]["ended_at"] is None

    async def test_break_while_on_task_refused_offline_returns_task(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        await world.lead(project)
        op = await world.operator()
        oc = api_client(role=Role.OPERATOR, user_id=op)
        task = (await oc.post("/v1/operators/me/next-task")).json()
        response = await oc.post("/v1/operators/me/state", json={"state": "break"})
        assert response.status_code == 409
        assert response.json()["code"] == "task_in_progress"
        response = await oc.post("/v1/operators/me/state", json={"state": "offline"})
        assert response.status_code == 200
        async with session_scope(STAFF) as session:
            status = await session.scalar(
                text("SELECT status FROM assignment.tasks WHERE id = :id"), {"id": task["id"]}
            )
        assert status == "queued"

    async def test_on_task_is_not_settable(self, world: World, api_client: ApiClient) -> None:
        oc = api_client(role=Role.OPERATOR, user_id=await world.operator())
        response = await oc.post("/v1/operators/me/state", json={"state": "on_task"})
        assert response.status_code in (400, 422)
