"""The mirrors and operators follow events; a received lead becomes a first call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import text

from services.assignment.mirrors.projects_and_leads import get_project
from services.assignment.operators import repository as operator_repository
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.events import Envelope, new_event
from tests.assignment.conftest import World, project_payload, send, task_rows
from tests.support.clients import ApiClient

NIGHT_ONLY = {
    d: {"start": "03:00", "end": "03:01"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


class TestLeadReceived:
    async def test_lead_becomes_a_ready_first_call(self, world: World) -> None:
        project = await world.project()
        lead = await world.lead(project, number="+74951112233")
        [task] = await task_rows(lead)
        assert task.kind == "first_call"
        assert task.status == "queued"
        assert task.phone_e164 == "+74951112233"
        assert task.zones == ["Europe/Moscow"]
        assert task.attempt == 1
        assert task.next_allowed_at <= datetime.now(UTC) < task.window_closes_at

    async def test_repeated_event_creates_one_task(self, world: World) -> None:
        project = await world.project()
        event = new_event(
            "lead.received",
            tenant_id=world.tenant_id,
            payload={"lead_id": new_id(), "project_id": project, "phone": "+74951112234"},
        )
        assert await send("assignment", event)
        assert not await send("assignment", event)
        assert len(await task_rows(event.payload["lead_id"])) == 1

    async def test_uncertain_zone_uses_every_candidate_zone(self, world: World) -> None:
        project = await world.project()
        lead = await world.lead(project, number="+79161234567", timezone=None)
        [task] = await task_rows(lead)
        assert len(task.zones) > 5
        assert "Asia/Kamchatka" in task.zones

    async def test_lead_before_project_waits_for_its_window(self, world: World) -> None:
        project = new_id()
        lead = await world.lead(project)
        [task] = await task_rows(lead)
        assert task.next_allowed_at is None
        await world.update_project(project)
        [task] = await task_rows(lead)
        assert task.next_allowed_at is not None


class TestLeadErased:
    async def test_erasure_forgets_phone_and_cancels(self, world: World) -> None:
        project = await world.project()
        lead = await world.lead(project)
        await send(
            "assignment",
            new_event(
                "lead.erased",
                tenant_id=world.tenant_id,
                payload={"lead_id": lead, "project_id": project},
            ),
        )
        [task] = await task_rows(lead)
        assert task.status == "cancelled"
        assert task.cancel_reason == "lead_erased"
        assert task.phone_e164 is None
        async with session_scope(STAFF) as session:
            row = (
                await session.execute(
                    text("SELECT phone_e164, erased_at FROM assignment.leads WHERE id = :id"),
                    {"id": lead},
                )
            ).one()
        assert row.phone_e164 is None
        assert row.erased_at is not None


class TestProjectUpdated:
    async def test_older_revision_is_ignored(self, world: World) -> None:
        project = await world.project(revision=5, script="new")
        await world.update_project(project, revision=4, script="old")
        async with session_scope(STAFF) as session:
            mirror = await get_project(session, world.tenant_id, project)
        assert mirror is not None
        assert (mirror.revision, mirror.script) == (5, "new")

    async def test_window_change_moves_pending_tasks(self, world: World) -> None:
        project = await world.project(revision=1)
        lead = await world.lead(project)
        await world.update_project(project, revision=2, window=NIGHT_ONLY)
        [task] = await task_rows(lead)
        local = task.next_allowed_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Moscow"))
        assert (local.hour, local.minute) == (3, 0)
        assert task.window_closes_at - task.next_allowed_at == timedelta(minutes=1)

    async def test_name_zone_target_and_script_come_from_the_settings_tree(
        self, world: World
    ) -> None:
        project = new_id()
        await world.update_project(
            project,
            settings={
                "timezone": "Asia/Vladivostok",
                "speed_to_lead_seconds": 60,
                "script": "Good morning.",
                "phone_region": "RU",  # the tree's other keys are not the mirror's
            },
        )
        async with session_scope(STAFF) as session:
            mirror = await get_project(session, world.tenant_id, project)
        assert mirror is not None
        assert (mirror.name, mirror.timezone) == (f"Project {project.hex[:6]}", "Asia/Vladivostok")
        assert (mirror.speed_to_lead_seconds, mirror.script) == (60, "Good morning.")

    @pytest.mark.parametrize(
        "broken",
        [
            {"project_id": None},
            {"calling_window": "always"},
            {"skills": "sales"},
            {"settings": {"speed_to_lead_seconds": "fast"}},
        ],
        ids=["no_project_id", "window_not_an_object", "skills_not_a_list", "target_not_a_number"],
    )
    async def test_payload_that_does_not_fit_its_struct_is_rejected_not_defaulted(
        self, world: World, broken: dict[str, object]
    ) -> None:
        project = new_id()
        event = Envelope(
            id=new_id(),
            type="project.updated",
            version=1,
            tenant_id=world.tenant_id,
            occurred_at=datetime.now(UTC),
            payload={**project_payload(project), **broken},
        )
        with pytest.raises(msgspec.ValidationError):
            await send("assignment", event)
        async with session_scope(STAFF) as session:
            assert await get_project(session, world.tenant_id, project) is None
            # not marked applied: the broker retries it, then dead-letters it
            applied = await session.scalar(
                text("SELECT count(*) FROM assignment.inbox WHERE event_id = :id"),
                {"id": event.id},
            )
        assert applied == 0

    async def test_paused_project_offers_nothing(self, world: World) -> None:
        project = await world.project(revision=1)
        lead = await world.lead(project)
        await world.update_project(project, revision=2, status="paused")
        [task] = await task_rows(lead)
        assert task.next_allowed_at is None


class TestOperators:
    async def test_user_created_operator_gets_a_profile(self) -> None:
        user_id = new_id()
        await send(
            "assignment",
            new_event(
                "user.created", tenant_id=None, payload={"user_id": user_id, "role": "operator"}
            ),
        )
        other = new_id()
        await send(
            "assignment",
            new_event("user.created", tenant_id=None, payload={"user_id": other, "role": "admin"}),
        )
        async with session_scope(STAFF) as session:
            result = await session.execute(
                text("SELECT id, state FROM assignment.operators WHERE id = ANY(:ids)"),
                {"ids": [user_id, other]},
            )
            rows = {row.id: row.state for row in result}
        assert rows == {user_id: "offline"}

    async def test_leaving_the_role_disables(self, world: World) -> None:
        op = await world.operator()
        await send(
            "assignment",
            new_event(
                "user.updated",
                tenant_id=None,
                payload={"user_id": op, "role": "account_manager", "changed": ["role"]},
            ),
        )
        async with session_scope(STAFF) as session:
            row = (
                await session.execute(
                    text("SELECT status, state FROM assignment.operators WHERE id = :id"),
                    {"id": op},
                )
            ).one()
        assert (row.status, row.state) == ("disabled", "offline")


class TestOperatorSkillsFromUsers:
    """The skills set on a user reach the operator's profile, so routing sees them."""

    async def skills_of(self, operator_id: object) -> list[str]:
        async with session_scope(STAFF) as session:
            skills = await session.scalar(
                text("SELECT skills FROM assignment.operators WHERE id = :id"), {"id": operator_id}
            )
        return list(skills)

    async def user_event(self, event_type: str, **payload: object) -> None:
        await send("assignment", new_event(event_type, tenant_id=None, payload=payload))

    async def test_new_operator_with_skills_gets_the_projects_needing_them(
        self, world: World, api_client: ApiClient
    ) -> None:
        sales = await world.project(required_skills=["sales"])
        lead = await world.lead(sales)
        user_id = new_id()
        await self.user_event(
            "user.created", user_id=user_id, role="operator", skills=["sales", "english"]
        )
        assert await self.skills_of(user_id) == ["english", "sales"]
        async with session_scope(STAFF) as session:  # only this project, so others' leads wait
            await session.execute(
                text("UPDATE assignment.operators SET project_ids = :p WHERE id = :id"),
                {"p": [sales], "id": user_id},
            )
            await operator_repository.transition(
                session, user_id, "available", reason="test", seen=True
            )
        response = await api_client(role=Role.OPERATOR, user_id=user_id).post(
            "/v1/operators/me/next-task"
        )
        assert response.status_code == 200, response.text
        assert response.json()["lead"]["id"] == str(lead)

    async def test_changed_skills_follow_and_other_changes_keep_them(self) -> None:
        user_id = new_id()
        await self.user_event("user.created", user_id=user_id, role="operator", skills=["sales"])
        await self.user_event(
            "user.updated", user_id=user_id, role="operator", skills=["support"], changed=["skills"]
        )
        assert await self.skills_of(user_id) == ["support"]
        async with session_scope(STAFF) as session:  # an admin patches the operator
            await session.execute(
                text("UPDATE assignment.operators SET skills = '{vip}' WHERE id = :id"),
                {"id": user_id},
            )
        await self.user_event(
            "user.updated", user_id=user_id, role="operator", skills=["support"], changed=["name"]
        )
        assert await self.skills_of(user_id) == ["vip"]
