"""Projects over HTTP: create, read, list, change, lifecycle, isolation, events."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.projects.service import projects
from shared.context import SYSTEM, Ctx, Role
from shared.db.session import STAFF, session_scope
from tests.pricing.conftest import mirror_tenant
from tests.support.clients import ApiClient


async def create(
    client: httpx.AsyncClient, tenant: TenantMirror, kind: str = "outbound_first_call", **extra: Any
) -> dict[str, Any]:
    body = {"tenant_id": str(tenant.id), "name": "Spring campaign", "kind": kind, **extra}
    response = await client.post("/v1/projects", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def events_for(project_id: str) -> list[dict[str, Any]]:
    """``project.updated`` payloads in pricing's outbox for one project, oldest first."""
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text(
                "select payload from pricing.outbox "
                "where event_type = 'project.updated' and payload->>'project_id' = :pid "
                "order by occurred_at"
            ),
            {"pid": project_id},
        )
        return [row[0] for row in rows]


async def activate(project_id: str) -> None:
    async with session_scope(STAFF) as session:
        await projects.apply_price_plan(
            session, SYSTEM, uuid.UUID(project_id), quote_id=uuid.uuid4(), plan={"lines": []}
        )


class TestCreateProject:
    async def test_kind_defaults_in_the_tenants_time_zone(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        response = await staff_client.post(
            "/v1/projects",
            json={"tenant_id": str(tenant.id), "name": "Hotline", "kind": "inbound"},
        )
        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"/v1/projects/{body['id']}"
        assert body["status"] == "draft"
        assert body["settings_version"] == 1
        assert body["price_plan"] is None
        assert body["settings"]["timezone"] == "Europe/Moscow"
        assert body["settings"]["calling_window"]["sun"] == {"start": "09:00", "end": "21:00"}
        assert any(d["final"] for d in body["settings"]["dispositions"])

    async def test_overrides_merge_into_defaults_and_emit_the_snapshot(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        body = await create(
            staff_client,
            tenant,
            settings={"calling_window": {"sat": None}, "priority_weight": 70, "script": "Hello"},
        )
        assert body["settings"]["calling_window"]["sat"] is None
        assert body["settings"]["calling_window"]["mon"] == {"start": "09:00", "end": "21:00"}
        assert body["settings"]["priority_weight"] == 70
        [event] = await events_for(body["id"])
        assert event["revision"] == 1
        assert event["status"] == "draft"
        assert event["priority"] == 70
        assert event["calling_window"] == body["settings"]["calling_window"]
        assert event["dispositions"] == body["settings"]["dispositions"]
        assert event["currency"] == "RUB"

    @pytest.mark.parametrize(
        ("settings", "field", "code"),
        [
            (
                {"calling_window": {"mon": {"start": "20:00", "end": "10:00"}}},
                "settings.calling_window.mon.end",
                "window_end_before_start",
            ),
            (
                {
                    "dispositions": [
                        {"code": "a", "label": "A", "stage": "won", "final": True},
                        {"code": "b", "label": "B", "stage": "lost"},
                        {"code": "c", "label": "C", "stage": "nowhere"},
                    ]
                },
                "settings.dispositions[2].stage",
                "unknown_stage",
            ),
            (
                {"dispositions": [{"code": "a", "label": "A", "stage": "contacted"}]},
                "settings.dispositions",
                "no_final_disposition",
            ),
            ({"dedupe_window_days": -1}, "settings.dedupe_window_days", "invalid"),
            (
                {"retry": {"min_spacing_minutes": "soon"}},
                "settings.retry.min_spacing_minutes",
                "invalid",
            ),
        ],
    )
    async def test_bad_setting_is_422_naming_its_path(
        self,
        staff_client: httpx.AsyncClient,
        tenant: TenantMirror,
        settings: dict[str, Any],
        field: str,
        code: str,
    ) -> None:
        response = await staff_client.post(
            "/v1/projects",
            json={
                "tenant_id": str(tenant.id),
                "name": "X",
                "kind": "active_sales",
                "settings": settings,
            },
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "validation"
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in problem["errors"]
        ]

    async def test_unknown_tenant(self, staff_client: httpx.AsyncClient) -> None:
        response = await staff_client.post(
            "/v1/projects", json={"tenant_id": str(uuid.uuid4()), "name": "X", "kind": "inbound"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "tenant_id"

    async def test_closed_tenant(self, staff_client: httpx.AsyncClient) -> None:
        closed = await mirror_tenant(status="closed")
        response = await staff_client.post(
            "/v1/projects", json={"tenant_id": str(closed.id), "name": "X", "kind": "inbound"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "tenant_closed"

    async def test_unknown_kind(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        response = await staff_client.post(
            "/v1/projects", json={"tenant_id": str(tenant.id), "name": "X", "kind": "telepathy"}
        )
        assert response.status_code == 422

    @pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.OPERATOR])
    async def test_only_admins_and_account_managers_create(
        self, api_client: ApiClient, tenant: TenantMirror, role: Role
    ) -> None:
        client = api_client(role=role, tenant_id=tenant.id if role is Role.CLIENT_ADMIN else None)
        response = await client.post(
            "/v1/projects", json={"tenant_id": str(tenant.id), "name": "X", "kind": "inbound"}
        )
        assert response.status_code == 403


class TestUpdateProject:
    async def test_partial_settings_merge_bump_the_version_and_emit_the_whole_snapshot(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        response = await staff_client.patch(
            f"/v1/projects/{project['id']}",
            json={"name": "Autumn", "settings": {"retry": {"max_attempts_per_lead": 7}}},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "Autumn"
        assert body["settings_version"] == 2
        assert body["settings"]["retry"] == {
            "max_attempts_per_lead": 7,
            "max_attempts_per_day": 2,
            "min_spacing_minutes": 60,
        }
        first, second = await events_for(project["id"])
        assert (first["revision"], second["revision"]) == (1, 2)
        assert second["retry_policy"]["max_attempts_per_lead"] == 7
        assert second["calling_window"] == project["settings"]["calling_window"]
        assert second["dispositions"] == project["settings"]["dispositions"]
        assert second["required_fields"] == ["phone"]
        assert second["default_region"] == "RU"

    async def test_bad_merged_settings_change_nothing(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        response = await staff_client.patch(
            f"/v1/projects/{project['id']}",
            json={"settings": {"calling_window": {"fri": {"end": "08:00"}}}},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "settings.calling_window.fri.end"
        again = (await staff_client.get(f"/v1/projects/{project['id']}")).json()
        assert again["settings_version"] == 1
        assert len(await events_for(project["id"])) == 1

    async def test_no_change_is_no_new_version(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        response = await staff_client.patch(
            f"/v1/projects/{project['id']}", json={"settings": {"phone_region": "RU"}}
        )
        assert response.json()["settings_version"] == 1
        assert len(await events_for(project["id"])) == 1

    async def test_client_admin_reads_but_cannot_change(
        self,
        staff_client: httpx.AsyncClient,
        client_admin_client: httpx.AsyncClient,
        tenant: TenantMirror,
    ) -> None:
        project = await create(staff_client, tenant)
        got = await client_admin_client.get(f"/v1/projects/{project['id']}")
        assert got.status_code == 200
        response = await client_admin_client.patch(
            f"/v1/projects/{project['id']}", json={"name": "Mine now"}
        )
        assert response.status_code == 403


class TestLifecycle:
    async def test_draft_quoted_active_paused_active_closed(
        self, staff_client: httpx.AsyncClient, staff_ctx: Ctx, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        pid = uuid.UUID(project["id"])
        async with session_scope(STAFF) as session:
            quoted = await projects.mark_quoted(session, staff_ctx, pid)
            assert quoted.status == "quoted"
        quote_id = uuid.uuid4()
        async with session_scope(STAFF) as session:
            active = await projects.apply_price_plan(
                session, staff_ctx, pid, quote_id=quote_id, plan={"monthly_total": 100}
            )
            assert (active.status, active.settings_version) == ("active", 3)

        paused = await staff_client.post(f"/v1/projects/{pid}/pause", json={"reason": "budget"})
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"
        resumed = await staff_client.post(f"/v1/projects/{pid}/resume")
        assert resumed.json()["status"] == "active"
        closed = await staff_client.post(f"/v1/projects/{pid}/close")
        body = closed.json()
        assert (body["status"], body["settings_version"]) == ("closed", 6)
        assert body["accepted_quote_id"] == str(quote_id)
        assert body["price_plan"] == {"monthly_total": 100}

        events = await events_for(project["id"])
        assert [e["status"] for e in events] == [
            "draft",
            "quoted",
            "active",
            "paused",
            "active",
            "closed",
        ]
        assert [e["revision"] for e in events] == [1, 2, 3, 4, 5, 6]
        assert events[2]["price_plan"] == {"monthly_total": 100}
        async with session_scope(STAFF) as session:
            history = await session.execute(
                text(
                    "select from_status, to_status, settings_version, reason "
                    "from pricing.project_status_changes where project_id = :pid "
                    "order by settings_version"
                ),
                {"pid": pid},
            )
            assert [tuple(r) for r in history] == [
                (None, "draft", 1, None),
                ("draft", "quoted", 2, "quote sent"),
                ("quoted", "active", 3, f"quote {quote_id}"),
                ("active", "paused", 4, "budget"),
                ("paused", "active", 5, None),
                ("active", "closed", 6, None),
            ]

    async def test_pausing_a_draft_is_a_conflict(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        response = await staff_client.post(f"/v1/projects/{project['id']}/pause")
        assert response.status_code == 409
        assert response.json()["code"] == "project_invalid_transition"

    async def test_resuming_an_active_project_is_a_conflict(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        await activate(project["id"])
        response = await staff_client.post(f"/v1/projects/{project['id']}/resume")
        assert response.status_code == 409

    async def test_a_closed_project_is_read_only(
        self, staff_client: httpx.AsyncClient, staff_ctx: Ctx, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        assert (await staff_client.post(f"/v1/projects/{project['id']}/close")).status_code == 200
        again = await staff_client.post(f"/v1/projects/{project['id']}/close")
        assert again.status_code == 409
        patched = await staff_client.patch(f"/v1/projects/{project['id']}", json={"name": "Z"})
        assert (patched.status_code, patched.json()["code"]) == (409, "project_closed")
        from services.pricing.errors import ProjectClosed

        with pytest.raises(ProjectClosed):
            async with session_scope(STAFF) as session:
                await projects.mark_quoted(session, staff_ctx, uuid.UUID(project["id"]))

    async def test_mark_quoted_leaves_an_active_project_active(
        self, staff_client: httpx.AsyncClient, staff_ctx: Ctx, tenant: TenantMirror
    ) -> None:
        project = await create(staff_client, tenant)
        await activate(project["id"])
        async with session_scope(STAFF) as session:
            same = await projects.mark_quoted(session, staff_ctx, uuid.UUID(project["id"]))
            assert (same.status, same.settings_version) == ("active", 2)


class TestListAndIsolation:
    async def test_staff_filter_and_page_newest_first(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        made = [
            await create(staff_client, tenant, kind=k) for k in ("inbound", "post_event", "inbound")
        ]
        first = await staff_client.get(
            "/v1/projects", params={"tenant_id": str(tenant.id), "limit": 2}
        )
        page = first.json()
        assert [p["id"] for p in page["items"]] == [made[2]["id"], made[1]["id"]]
        second = await staff_client.get(
            "/v1/projects",
            params={"tenant_id": str(tenant.id), "limit": 2, "cursor": page["next_cursor"]},
        )
        assert [p["id"] for p in second.json()["items"]] == [made[0]["id"]]
        assert second.json()["next_cursor"] is None
        inbound = await staff_client.get(
            "/v1/projects", params={"tenant_id": str(tenant.id), "kind": "inbound"}
        )
        assert {p["id"] for p in inbound.json()["items"]} == {made[0]["id"], made[2]["id"]}
        drafts = await staff_client.get(
            "/v1/projects", params={"tenant_id": str(tenant.id), "status": "active"}
        )
        assert drafts.json()["items"] == []

    async def test_client_sees_only_its_tenants_projects(
        self,
        staff_client: httpx.AsyncClient,
        client_admin_client: httpx.AsyncClient,
        tenant: TenantMirror,
        other_tenant: TenantMirror,
    ) -> None:
        mine = await create(staff_client, tenant)
        await create(staff_client, other_tenant)
        listed = await client_admin_client.get("/v1/projects", params={"limit": 500})
        assert [p["id"] for p in listed.json()["items"]] == [mine["id"]]
        asked = await client_admin_client.get(
            "/v1/projects", params={"tenant_id": str(other_tenant.id)}
        )
        assert asked.json()["items"] == []

    async def test_another_tenants_project_is_404_on_every_route(
        self,
        staff_client: httpx.AsyncClient,
        api_client: ApiClient,
        tenant: TenantMirror,
        other_tenant: TenantMirror,
    ) -> None:
        theirs = await create(staff_client, other_tenant)
        await activate(theirs["id"])
        pid = theirs["id"]
        for role in (Role.CLIENT_ADMIN, Role.CLIENT_USER):
            client = api_client(role=role, tenant_id=tenant.id)
            reads = [
                await client.get(f"/v1/projects/{pid}"),
                await client.post(f"/v1/projects/{pid}/plan", json={"deals_per_month": 1}),
            ]
            for response in reads:
                assert response.status_code == 404, response.text
                assert response.json()["code"] == "project_not_found"
        # Staff-only writes answer 403 to clients before any lookup; the service
        # itself hides the project from a client context too:
        from services.pricing.errors import ProjectNotFound
        from tests.pricing.conftest import person

        intruder = person(Role.CLIENT_ADMIN, tenant.id)
        from shared.db.session import TenantScope

        for call in (
            lambda s: projects.get(s, intruder, uuid.UUID(pid)),
            lambda s: projects.pause(s, intruder, uuid.UUID(pid)),
            lambda s: projects.mark_quoted(s, intruder, uuid.UUID(pid)),
            lambda s: projects.apply_price_plan(
                s, intruder, uuid.UUID(pid), quote_id=uuid.uuid4(), plan={}
            ),
        ):
            with pytest.raises(ProjectNotFound):
                async with session_scope(TenantScope(tenant.id)) as session:
                    await call(session)

    async def test_missing_project_is_404(self, staff_client: httpx.AsyncClient) -> None:
        missing = uuid.uuid4()
        for response in (
            await staff_client.get(f"/v1/projects/{missing}"),
            await staff_client.patch(f"/v1/projects/{missing}", json={"name": "x"}),
            await staff_client.post(f"/v1/projects/{missing}/pause"),
            await staff_client.post(f"/v1/projects/{missing}/resume"),
            await staff_client.post(f"/v1/projects/{missing}/close"),
        ):
            assert response.status_code == 404
            assert response.json()["code"] == "project_not_found"

    async def test_rls_hides_other_tenants_rows_even_without_a_filter(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror, other_tenant: TenantMirror
    ) -> None:
        await create(staff_client, other_tenant)
        from shared.db.session import TenantScope

        async with session_scope(TenantScope(tenant.id)) as session:
            seen = await session.scalar(
                text("select count(*) from pricing.projects where tenant_id = :t"),
                {"t": other_tenant.id},
            )
            mirrored = await session.scalar(text("select count(*) from pricing.tenants"))
        assert seen == 0
        assert mirrored == 1


class TestSnapshot:
    async def test_snapshot_carries_the_whole_settings_for_the_catalogue(
        self, staff_client: httpx.AsyncClient, tenant: TenantMirror
    ) -> None:
        from services.pricing.projects.service import snapshot
        from shared.messaging.events import new_event

        body = await create(staff_client, tenant, settings={"script": "Good morning"})
        async with session_scope(STAFF) as session:
            project = await projects.get(session, SYSTEM, uuid.UUID(body["id"]))
            data = snapshot(project, currency="RUB")
        assert data["settings"] == body["settings"]
        assert data["settings"]["script"] == "Good morning"
        assert (data["name"], data["settings_version"], data["revision"]) == (body["name"], 1, 1)
        event = new_event("project.updated", tenant_id=tenant.id, payload=data)
        assert event.payload["project_id"] == body["id"]
