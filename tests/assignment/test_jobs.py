"""The reaper and the reconciler: nothing gets stuck, and the metrics say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import text

from services.assignment.jobs import reap, reconcile
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.assignment.conftest import World, task_rows
from tests.support.clients import ApiClient


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def sql(statement: str, **params: object) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(text(statement), params)


class TestReaper:
    async def test_expired_lease_returns_and_is_counted(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        lead = await world.lead(project)
        op = await world.operator()
        oc = api_client(role=Role.OPERATOR, user_id=op)
        task = (await oc.post("/v1/operators/me/next-task")).json()
        await sql(
            "UPDATE assignment.tasks SET lease_expires_at = now() - interval '1 s' WHERE id = :id",
            id=task["id"],
        )
        before = metric("kolokol_assignment_reaped_total", what="lease")
        counts = await reap()
        assert counts["lease"] >= 1
        assert metric("kolokol_assignment_reaped_total", what="lease") >= before + 1
        [row] = await task_rows(lead)
        assert (row.status, row.leased_to, row.lease_count) == ("queued", None, 1)
        other = api_client(role=Role.OPERATOR, user_id=await world.operator())
        again = (await other.post("/v1/operators/me/next-task")).json()
        assert again["id"] == task["id"]
        response = await oc.post(
            f"/v1/tasks/{task['id']}/complete", json={"disposition": "qualified"}
        )
        assert response.status_code == 409

    async def test_silent_operator_goes_offline_and_task_returns(
        self, world: World, api_client: ApiClient
    ) -> None:
        project = await world.project()
        lead = await world.lead(project)
        op = await world.operator()
        await api_client(role=Role.OPERATOR, user_id=op).post("/v1/operators/me/next-task")
        await sql(
            "UPDATE assignment.operators SET last_seen_at = now() - interval '3 minutes' "
            "WHERE id = :id",
            id=op,
        )
        before = metric("kolokol_assignment_reaped_total", what="operator")
        counts = await reap()
        assert counts["operator"] >= 1
        assert counts["operator_task"] >= 1
        assert metric("kolokol_assignment_reaped_total", what="operator") >= before + 1
        [row] = await task_rows(lead)
        assert row.status == "queued"
        async with session_scope(STAFF) as session:
            state = await session.scalar(
                text("SELECT state FROM assignment.operators WHERE id = :id"), {"id": op}
            )
        assert state == "offline"

    async def test_closed_window_rolls_on(self, world: World) -> None:
        project = await world.project()
        lead = await world.lead(project)
        await sql(
            "UPDATE assignment.tasks SET next_allowed_at = now() - interval '2 h', "
            "window_closes_at = now() - interval '1 h' WHERE lead_id = :l",
            l=lead,
        )
        counts = await reap()
        assert counts["window"] >= 1
        [row] = await task_rows(lead)
        assert row.window_closes_at > datetime.now(UTC)


class TestReconciler:
    async def test_lead_without_task_gets_its_first_call(self, world: World) -> None:
        project = await world.project()
        lead_id = new_id()
        await sql(
            "INSERT INTO assignment.leads (tenant_id, id, project_id, phone_e164, zones, "
            "received_at) VALUES (:t, :id, :p, '+74950001122', ARRAY['Europe/Moscow'], :r)",
            t=world.tenant_id,
            id=lead_id,
            p=project,
            r=datetime.now(UTC) - timedelta(minutes=2),
        )
        fresh = new_id()
        await sql(
            "INSERT INTO assignment.leads (tenant_id, id, project_id, phone_e164, zones, "
            "received_at) VALUES (:t, :id, :p, '+74950001123', ARRAY['Europe/Moscow'], now())",
            t=world.tenant_id,
            id=fresh,
            p=project,
        )
        before = metric("kolokol_assignment_reconciled_total")
        assert await reconcile() >= 1
        assert metric("kolokol_assignment_reconciled_total") >= before + 1
        [task] = await task_rows(lead_id)
        assert task.kind == "first_call"
        assert await task_rows(fresh) == []
        assert await reconcile() == 0 or await task_rows(lead_id) == [task]
