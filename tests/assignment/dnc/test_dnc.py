"""Do-not-call lists through HTTP: per tenant and global, isolation, cancelling tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from sqlalchemy import text

from services.assignment.dnc.controllers import DNC_ROUTE_HANDLERS
from services.assignment.dnc.service import dnc
from services.assignment.jobs import dnc_sweep
from shared.context import SYSTEM, Ctx, PrincipalKind, Role
from shared.db.session import STAFF, TenantScope, session_scope
from shared.http.app import create_service_app
from tests.http.helpers import bearer
from tests.support.factories import make_api_key, make_tenant

MOBILE = "+79161234567"


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_service_app("assignment-dnc", DNC_ROUTE_HANDLERS)


def new_tenant() -> uuid.UUID:
    return uuid.uuid4()


def phone() -> str:
    """A fresh valid Moscow mobile number."""
    return f"+7916{uuid.uuid4().int % 10_000_000:07d}"


async def add_task(tenant_id: uuid.UUID, phone_e164: str, status: str = "queued") -> uuid.UUID:
    task_id = uuid.uuid4()
    leased = status == "leased"
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                """
                INSERT INTO assignment.tasks (tenant_id, id, project_id, lead_id, kind,
                    class_rank, status, phone_e164, received_at, due_at, leased_to,
                    lease_expires_at)
                VALUES (:t, :id, :p, :l, 'first_call', 1, :status, :phone, now(), now(),
                    :leased_to, :expires)
                """
            ),
            {
                "t": tenant_id,
                "id": task_id,
                "p": uuid.uuid4(),
                "l": uuid.uuid4(),
                "status": status,
                "phone": phone_e164,
                "leased_to": uuid.uuid4() if leased else None,
                "expires": datetime.now(UTC) if leased else None,
            },
        )
    return task_id


async def task_status(tenant_id: uuid.UUID, task_id: uuid.UUID) -> tuple[str, str | None]:
    async with session_scope(STAFF) as session:
        row = (
            await session.execute(
                text(
                    "SELECT status, cancel_reason FROM assignment.tasks"
                    " WHERE tenant_id = :t AND id = :id"
                ),
                {"t": tenant_id, "id": task_id},
            )
        ).one()
    return row.status, row.cancel_reason


class TestTenantList:
    async def test_client_adds_checks_and_removes_a_number(self, client):
        tenant = new_tenant()
        headers = bearer(Role.CLIENT_ADMIN, tenant)
        number = phone()
        national = "8" + number[2:]  # 8 916 … — the way people write it in Russia

        added = await client.post(
            "/v1/dnc", json={"phone": national, "reason": "asked by phone"}, headers=headers
        )
        assert added.status_code == 201, added.text
        body = added.json()
        assert body["phone"] == number
        assert body["list"] == "tenant"
        assert body["tenant_id"] == str(tenant)
        assert body["source"] == "client"
        assert body["cancelled_tasks"] == 0
        assert added.headers["location"].startswith("/v1/dnc/check?phone=")

        again = await client.post("/v1/dnc", json={"phone": number}, headers=headers)
        assert again.status_code == 200
        assert again.json()["reason"] == "asked by phone"

        check = await client.get("/v1/dnc/check", params={"phone": number}, headers=headers)
        assert check.json() == {"phone": number, "listed": True, "lists": ["tenant"]}

        page = await client.get("/v1/dnc", headers=headers)
        assert [e["phone"] for e in page.json()["items"]] == [number]

        gone = await client.delete(f"/v1/dnc/{number}", headers=bearer(Role.CLIENT_USER, tenant))
        assert gone.status_code == 204, gone.text
        check = await client.get("/v1/dnc/check", params={"phone": number}, headers=headers)
        assert check.json() == {"phone": number, "listed": False, "lists": []}
        missing = await client.delete(f"/v1/dnc/{number}", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "dnc_entry_not_found"

    async def test_another_tenants_list_is_invisible(self, client):
        mine, theirs = new_tenant(), new_tenant()
        number = phone()
        await client.post(
            "/v1/dnc", json={"phone": number}, headers=bearer(Role.CLIENT_ADMIN, theirs)
        )

        headers = bearer(Role.CLIENT_ADMIN, mine)
        check = await client.get("/v1/dnc/check", params={"phone": number}, headers=headers)
        assert check.json()["listed"] is False
        page = await client.get("/v1/dnc", headers=headers)
        assert page.json() == {"items": [], "next_cursor": None}
        removed = await client.delete(f"/v1/dnc/{number}", headers=headers)
        assert removed.status_code == 404
        naming_theirs = await client.get(
            "/v1/dnc/check", params={"phone": number, "tenant_id": str(theirs)}, headers=headers
        )
        assert naming_theirs.status_code == 403
        posting_theirs = await client.post(
            "/v1/dnc", json={"phone": number, "tenant_id": str(theirs)}, headers=headers
        )
        assert posting_theirs.status_code == 403

    async def test_rls_alone_hides_other_tenants_rows(self):
        tenant, other = new_tenant(), new_tenant()
        number = phone()
        async with session_scope(STAFF) as session:
            await dnc.add(
                session, SYSTEM, phone=number, tenant_id=other, reason=None, source="staff"
            )
        async with session_scope(TenantScope(tenant)) as session:
            rows = await session.execute(
                text("SELECT count(*) FROM assignment.dnc_numbers WHERE phone_e164 = :p"),
                {"p": number},
            )
            assert rows.scalar() == 0

    async def test_staff_add_to_a_named_tenant_list(self, client):
        tenant = new_tenant()
        number = phone()
        headers = bearer(Role.ACCOUNT_MANAGER)
        no_tenant = await client.post("/v1/dnc", json={"phone": number}, headers=headers)
        assert no_tenant.status_code == 422
        assert no_tenant.json()["errors"][0]["field"] == "tenant_id"
        added = await client.post(
            "/v1/dnc", json={"phone": number, "tenant_id": str(tenant)}, headers=headers
        )
        assert added.status_code == 201
        assert added.json()["source"] == "staff"
        check = await client.get(
            "/v1/dnc/check", params={"phone": number}, headers=bearer(Role.CLIENT_USER, tenant)
        )
        assert check.json()["lists"] == ["tenant"]

    async def test_pages_newest_first(self, client):
        tenant = new_tenant()
        headers = bearer(Role.CLIENT_ADMIN, tenant)
        numbers = [phone() for _ in range(5)]
        for number in numbers:
            await client.post("/v1/dnc", json={"phone": number}, headers=headers)
        first = (await client.get("/v1/dnc", params={"limit": 3}, headers=headers)).json()
        second = (
            await client.get(
                "/v1/dnc", params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
            )
        ).json()
        seen = [e["phone"] for e in first["items"] + second["items"]]
        assert seen == list(reversed(numbers))
        assert second["next_cursor"] is None


class TestGlobalList:
    async def test_staff_list_globally_and_every_tenant_sees_it(self, client):
        number = phone()
        added = await client.post(
            "/v1/dnc", json={"phone": number, "list": "global"}, headers=bearer(Role.ADMIN)
        )
        assert added.status_code == 201
        assert added.json()["tenant_id"] is None
        for tenant in (new_tenant(), new_tenant()):
            check = await client.get(
                "/v1/dnc/check", params={"phone": number}, headers=bearer(Role.CLIENT_USER, tenant)
            )
            assert check.json() == {"phone": number, "listed": True, "lists": ["global"]}
        staff_page = await client.get(
            "/v1/dnc", params={"list": "global"}, headers=bearer(Role.ADMIN)
        )
        assert number in [e["phone"] for e in staff_page.json()["items"]]
        removed = await client.delete(
            f"/v1/dnc/{number}", params={"list": "global"}, headers=bearer(Role.ACCOUNT_MANAGER)
        )
        assert removed.status_code == 204

    async def test_clients_cannot_change_or_page_the_global_list(self, client):
        tenant = new_tenant()
        headers = bearer(Role.CLIENT_ADMIN, tenant)
        number = phone()
        post = await client.post(
            "/v1/dnc", json={"phone": number, "list": "global"}, headers=headers
        )
        assert post.status_code == 403
        assert post.json()["code"] == "global_list_forbidden"
        page = await client.get("/v1/dnc", params={"list": "global"}, headers=headers)
        assert page.status_code == 403
        await client.post(
            "/v1/dnc", json={"phone": number, "list": "global"}, headers=bearer(Role.ADMIN)
        )
        delete = await client.delete(
            f"/v1/dnc/{number}", params={"list": "global"}, headers=headers
        )
        assert delete.status_code == 403

    async def test_a_tenant_session_cannot_write_global_rows(self):
        async with session_scope(TenantScope(new_tenant())) as session:
            with pytest.raises(Exception, match="row-level security"):
                await session.execute(
                    text(
                        "INSERT INTO assignment.dnc_global (id, phone_e164, source)"
                        " VALUES (:id, :p, 'client')"
                    ),
                    {"id": uuid.uuid4(), "p": phone()},
                )

    async def test_operators_cannot_use_the_routes(self, client):
        response = await client.get("/v1/dnc", headers=bearer(Role.OPERATOR))
        assert response.status_code == 403


class TestValidation:
    @pytest.mark.parametrize("bad", ["12", "+7 000", "hello", "+79"])
    async def test_invalid_phone_is_422_naming_phone(self, client, bad):
        headers = bearer(Role.CLIENT_ADMIN, new_tenant())
        response = await client.post("/v1/dnc", json={"phone": bad}, headers=headers)
        assert response.status_code == 422
        error = response.json()["errors"][0]
        assert error["field"] == "phone"
        assert error["code"] == "invalid_phone"
        check = await client.get("/v1/dnc/check", params={"phone": bad}, headers=headers)
        assert check.status_code == 422

    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/v1/dnc")).status_code == 401


class TestApiKeys:
    async def test_key_needs_dnc_scopes(self, client):
        tenant = await make_tenant()
        _, writer = await make_api_key(tenant, scopes=["dnc:write", "dnc:read"])
        _, reader = await make_api_key(tenant, scopes=["leads:read"])
        number = phone()
        added = await client.post(
            "/v1/dnc", json={"phone": number}, headers={"Authorization": f"Bearer {writer}"}
        )
        assert added.status_code == 201, added.text
        assert added.json()["tenant_id"] == str(tenant.id)
        refused = await client.get(
            "/v1/dnc/check", params={"phone": number}, headers={"Authorization": f"Bearer {reader}"}
        )
        assert refused.status_code == 403


class TestCancelling:
    async def test_adding_cancels_the_numbers_pending_tasks_in_that_tenant(self, client):
        tenant, other = new_tenant(), new_tenant()
        number = phone()
        queued = await add_task(tenant, number)
        leased = await add_task(tenant, number, status="leased")
        elsewhere = await add_task(other, number)
        response = await client.post(
            "/v1/dnc", json={"phone": number}, headers=bearer(Role.CLIENT_ADMIN, tenant)
        )
        assert response.json()["cancelled_tasks"] == 2
        assert await task_status(tenant, queued) == ("cancelled", "do_not_call")
        assert await task_status(tenant, leased) == ("cancelled", "do_not_call")
        assert await task_status(other, elsewhere) == ("queued", None)

    async def test_a_global_entry_cancels_in_every_tenant(self, client):
        number = phone()
        tasks = [(t, await add_task(t, number)) for t in (new_tenant(), new_tenant())]
        response = await client.post(
            "/v1/dnc", json={"phone": number, "list": "global"}, headers=bearer(Role.ADMIN)
        )
        assert response.json()["cancelled_tasks"] == 2
        for tenant, task_id in tasks:
            assert (await task_status(tenant, task_id))[0] == "cancelled"

    async def test_disposition_source_lists_the_number(self):
        tenant = new_tenant()
        number = phone()
        task_id = await add_task(tenant, number)
        operator = Ctx(kind=PrincipalKind.USER, principal_id=uuid.uuid4(), role=Role.OPERATOR)
        async with session_scope(STAFF) as session:
            result = await dnc.add(
                session,
                operator,
                phone=number,
                tenant_id=tenant,
                reason="asked not to be called",
                source="disposition",
            )
            assert result.entry.source == "operator_disposition"
            assert await dnc.is_listed(session, tenant, number)
            assert not await dnc.is_listed(session, new_tenant(), number)
        assert (await task_status(tenant, task_id))[0] == "cancelled"

    async def test_sweep_cancels_tasks_that_slipped_past(self):
        tenant = new_tenant()
        number, global_number = phone(), phone()
        async with session_scope(STAFF) as session:
            await dnc.add(
                session, SYSTEM, phone=number, tenant_id=tenant, reason=None, source="staff"
            )
            await dnc.add(
                session, SYSTEM, phone=global_number, tenant_id=None, reason=None, source="staff"
            )
        late = await add_task(tenant, number)  # created after the listing, e.g. by a race
        late_global = await add_task(new_tenant(), global_number)
        unlisted = await add_task(tenant, phone())
        summary = await dnc_sweep()
        assert summary["cancelled"] >= 2
        assert (await task_status(tenant, late))[0] == "cancelled"
        assert (await task_status(tenant, unlisted))[0] == "queued"
        async with session_scope(STAFF) as session:
            status = await session.execute(
                text("SELECT status FROM assignment.tasks WHERE id = :id"), {"id": late_global}
            )
            assert status.scalar() == "cancelled"
        assert (await dnc_sweep())["cancelled"] == 0

    async def test_listed_among_finds_tenant_and_global_numbers(self):
        tenant = new_tenant()
        mine, everyone, free = phone(), phone(), phone()
        async with session_scope(STAFF) as session:
            await dnc.add(
                session, SYSTEM, phone=mine, tenant_id=tenant, reason=None, source="staff"
            )
            await dnc.add(
                session, SYSTEM, phone=everyone, tenant_id=None, reason=None, source="staff"
            )
            found = await dnc.listed_among(session, tenant, [mine, everyone, free])
        assert found == {mine, everyone}
