"""Bulk follow-ups, the do-not-call disposition and ``GET /v1/queues``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.assignment.dnc.service import dnc
from shared.context import SYSTEM, Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.events import new_event
from tests.assignment.conftest import World, send, task_rows
from tests.support.clients import ApiClient


async def sql(statement: str, **params: object) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(text(statement), params)


class TestBulk:
    async def test_per_lead_outcomes(self, world: World, api_client: ApiClient) -> None:
        project = await world.project()
        plain, pending, erased, listed = [await world.lead(project) for _ in range(4)]
        # Work off the first calls of all but `pending`.
        await sql(
            "UPDATE assignment.tasks SET status = 'completed' WHERE lead_id = ANY(:ids)",
            ids=[plain, erased, listed],
        )
        await send(
            "assignment",
            new_event(
                "lead.erased",
                tenant_id=world.tenant_id,
                payload={"lead_id": erased, "project_id": project},
            ),
        )
        [listed_task] = await task_rows(listed)
        async with session_scope(STAFF) as session:
            await dnc.add(
                session,
                SYSTEM,
                phone=listed_task.phone_e164,
                tenant_id=world.tenant_id,
                reason="test",
                source="staff",
            )
        missing = new_id()
        am = api_client(role=Role.ACCOUNT_MANAGER)
        response = await am.post(
            "/v1/tasks/bulk",
            json={
                "project_id": str(project),
                "lead_ids": [str(x) for x in (plain, pending, erased, listed, missing)],
                "note": "after the webinar",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        outcomes = {i["lead_id"]: i["outcome"] for i in body["items"]}
        assert outcomes == {
            str(plain): "created",
            str(pending): "pending_task",
            str(erased): "erased",
            str(listed): "do_not_call",
            str(missing): "not_found",
        }
        assert (body["created"], body["skipped"]) == (1, 4)
        follow_up = (await task_rows(plain))[-1]
        assert (follow_up.kind, follow_up.note, follow_up.attempt) == (
            "follow_up",
            "after the webinar",
            1,
        )

    async def test_operators_may_not_bulk(self, world: World, api_client: ApiClient) -> None:
        project = await world.project()
        oc = api_client(role=Role.OPERATOR, user_id=await world.operator())
        response = await oc.post(
            "/v1/tasks/bulk", json={"project_id": str(project), "lead_ids": [str(new_id())]}
        )
        assert response.status_code == 403


class TestDoNotCallDisposition:
    async def test_lists_the_number_and_cancels_its_other_tasks(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        number = "+74959990011"
        first = await world.lead(project, number=number)
        second_project = await world.project()
        other = await world.lead(second_project, number=number)
        oc = api_client(role=Role.OPERATOR, user_id=await world.operator(projects=[project]))
        task = (await oc.post("/v1/operators/me/next-task")).json()
        assert task["lead"]["id"] == str(first)
        response = await oc.post(
            f"/v1/tasks/{task['id']}/complete", json={"disposition": "do_not_call"}
        )
        assert response.status_code == 200, response.text
        async with session_scope(STAFF) as session:
            assert await dnc.is_listed(session, world.tenant_id, number)
        [other_task] = await task_rows(other)
        assert other_task.status == "cancelled"
        again = await world.lead(project, number=number)
        assert await task_rows(again) == []  # a listed number gets no new task


class TestQueues:
    async def test_figures_on_a_known_data_set(self, world: World, api_client: ApiClient) -> None:
        project = await world.project(speed_to_lead_seconds=60)
        now = datetime.now(UTC)
        # Four leads today, first called after 10 s, 20 s, 30 s and 100 s; one waiting
        # 30 s (undecided); one waiting 5 min (a miss).
        called = []
        for seconds in (10, 20, 30, 100):
            lead = await world.lead(project)
            called.append(lead)
            await sql(
                "UPDATE assignment.leads SET received_at = :r, first_attempt_at = :f "
                "WHERE id = :id",
                r=now - timedelta(minutes=30),
                f=now - timedelta(minutes=30) + timedelta(seconds=seconds),
                id=lead,
            )
            await sql("UPDATE assignment.tasks SET status = 'completed' WHERE lead_id = :l", l=lead)
        waiting = await world.lead(project, received_at=now - timedelta(seconds=30))
        late = await world.lead(project, received_at=now - timedelta(minutes=5))
        await sql(
            "UPDATE assignment.tasks SET next_allowed_at = :n WHERE lead_id = :l",
            n=now - timedelta(minutes=5),
            l=late,
        )
        later = await world.lead(project)
        await sql(
            "UPDATE assignment.tasks SET next_allowed_at = now() + interval '1 hour', "
            "due_at = now() + interval '1 hour' WHERE lead_id = :l",
            l=later,
        )
        await sql(
            "UPDATE assignment.leads SET received_at = :r WHERE id = :id",
            r=now - timedelta(hours=1),
            id=later,
        )
        await sql(
            "UPDATE assignment.leads SET first_attempt_at = :f WHERE id = :id",
            f=now - timedelta(minutes=59),
            id=later,
        )
        op = await world.operator()
        oc = api_client(role=Role.OPERATOR, user_id=op)
        got = (await oc.post("/v1/operators/me/next-task")).json()
        assert got["lead"]["id"] in (str(waiting), str(late))
        am = api_client(role=Role.ACCOUNT_MANAGER)
        response = await am.get("/v1/queues", params={"project_id": str(project)})
        assert response.status_code == 200, response.text
        [q] = response.json()["items"]
        assert q["waiting_now"] == 1
        assert q["due_later"] == 1
        assert q["in_progress"] == 1
        assert q["operators_on_task"] == 1
        assert q["oldest_waiting_seconds"] is not None
        assert q["new_leads_today"] == 7
        # first attempts: 10, 20, 30, 100, 60 (the "later" lead) seconds
        assert q["speed_to_lead_p50_seconds"] == 30.0
        assert q["speed_to_lead_p90_seconds"] == 84.0
        # decided: 5 called + `late` (missed, uncalled); in target (<= 60 s): 10, 20, 30, 60
        assert q["service_level"] == round(4 / 6, 4)
