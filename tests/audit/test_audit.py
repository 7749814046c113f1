"""The audit log: what is stored, who may read it, and the admin route."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import structlog
from litestar import Litestar
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from shared.audit.log import record
from shared.audit.models import AuditLog
from shared.audit.routes import AuditController
from shared.auth.tokens import issue_access_token
from shared.context import SYSTEM, Ctx, PrincipalKind, Role
from shared.db.session import STAFF, TenantScope, session_scope
from shared.ids import new_id


def staff(role: Role = Role.ADMIN) -> Ctx:
    return Ctx(kind=PrincipalKind.USER, principal_id=new_id(), role=role)


def client_admin(tenant_id: uuid.UUID) -> Ctx:
    return Ctx(
        kind=PrincipalKind.USER, principal_id=new_id(), role=Role.CLIENT_ADMIN, tenant_id=tenant_id
    )


async def entries(entity_id: uuid.UUID, scope: Any = STAFF) -> list[AuditLog]:
    async with session_scope(scope) as session:
        rows = await session.scalars(select(AuditLog).where(AuditLog.entity_id == entity_id))
        return list(rows)


class TestRecord:
    async def test_strips_secrets_and_lists_changed_keys(self) -> None:
        ctx, tenant, user_id = staff(), new_id(), new_id()
        structlog.contextvars.bind_contextvars(request_id="req-123")
        try:
            async with session_scope(STAFF) as session:
                await record(
                    session,
                    ctx,
                    action="user.password_reset",
                    entity="user",
                    entity_id=user_id,
                    tenant_id=tenant,
                    before={
                        "status": "active",
                        "password_hash": "$argon2id$old",
                        "role": Role.CLIENT_USER,
                        "webhook": {"url": "https://x", "secret": "s1", "signing_secret": "s2"},
                    },
                    after={
                        "status": "active",
                        "password_hash": "$argon2id$new",
                        "role": Role.CLIENT_ADMIN,
                        "credit": Decimal("12.50"),
                        "token": "eyJ...",
                        "webhook": {"url": "https://x", "secret": "s3", "signing_secret": "s4"},
                    },
                )
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        (row,) = await entries(user_id)
        assert row.before == {
            "status": "active",
            "role": "client_user",
            "webhook": {"url": "https://x"},
        }
        assert row.after == {
            "status": "active",
            "role": "client_admin",
            "credit": "12.50",
            "webhook": {"url": "https://x"},
        }
        # the secret values are gone, the fact that they changed is not
        assert row.changes == ["credit", "password_hash", "role", "token", "webhook"]
        assert (row.actor, row.actor_kind, row.actor_id, row.role) == (
            f"user:{ctx.principal_id}",
            "user",
            ctx.principal_id,
            "admin",
        )
        assert row.tenant_id == tenant
        assert row.request_id == "req-123"
        assert row.at.tzinfo is not None

    async def test_create_and_delete_have_null_sides(self) -> None:
        key_id = new_id()
        async with session_scope(STAFF) as session:
            await record(
                session,
                SYSTEM,
                action="api_key.created",
                entity="api_key",
                entity_id=key_id,
                tenant_id=None,
                before=None,
                after={"name": "crm", "key_hash": "abc", "prefix": "kk_live_abcd"},
            )
        (row,) = await entries(key_id)
        assert row.before is None
        assert row.after == {"name": "crm", "prefix": "kk_live_abcd"}
        assert row.changes == ["key_hash", "name", "prefix"]
        assert (row.actor, row.actor_id, row.role, row.request_id) == ("system", None, None, None)
        raw = await _owner_scalar(
            "select before is null from platform.audit_log where entity_id = :id", id=key_id
        )
        assert raw is True, "a missing side is SQL NULL, not JSON null"

    async def test_entry_is_part_of_the_callers_transaction(self) -> None:
        entity_id = new_id()

        async def change_that_fails() -> None:
            async with session_scope(STAFF) as session:
                await record(
                    session,
                    staff(),
                    action="invoice.voided",
                    entity="invoice",
                    entity_id=entity_id,
                    tenant_id=new_id(),
                    before={"status": "issued"},
                    after={"status": "void"},
                )
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            await change_that_fails()
        assert await entries(entity_id) == []


class TestVisibility:
    async def test_tenant_sees_only_its_own_rows_and_no_staff_rows(self) -> None:
        mine, theirs = new_id(), new_id()
        ids = {"mine": new_id(), "theirs": new_id(), "staff": new_id()}
        async with session_scope(STAFF) as session:
            for label, tenant in (("mine", mine), ("theirs", theirs), ("staff", None)):
                await record(
                    session,
                    staff(),
                    action="tenant.suspended",
                    entity="tenant",
                    entity_id=ids[label],
                    tenant_id=tenant,
                    before={"status": "active"},
                    after={"status": "suspended"},
                )
        scope = TenantScope(mine)
        assert len(await entries(ids["mine"], scope)) == 1
        assert await entries(ids["theirs"], scope) == []
        assert await entries(ids["staff"], scope) == []
        assert await entries(ids["staff"], None) == []
        assert len(await entries(ids["staff"])) == 1

    async def test_tenant_can_record_for_itself_only(self) -> None:
        mine, entity_id = new_id(), new_id()
        async with session_scope(TenantScope(mine)) as session:
            await record(
                session,
                client_admin(mine),
                action="api_key.revoked",
                entity="api_key",
                entity_id=entity_id,
                tenant_id=mine,
                before={"revoked_at": None},
                after={"revoked_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC)},
            )
        (row,) = await entries(entity_id, TenantScope(mine))
        assert row.after == {"revoked_at": "2026-12-01T09:30:00Z"}
        assert row.role == "client_admin"
        with pytest.raises(DBAPIError, match="row-level security"):
            async with session_scope(TenantScope(mine)) as session:
                await record(
                    session,
                    client_admin(mine),
                    action="api_key.revoked",
                    entity="api_key",
                    entity_id=new_id(),
                    tenant_id=new_id(),
                    before=None,
                    after=None,
                )

    async def test_app_role_cannot_rewrite_history(self) -> None:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with session_scope(STAFF) as session:
                await session.execute(text("delete from platform.audit_log"))
        with pytest.raises(DBAPIError, match="permission denied"):
            async with session_scope(STAFF) as session:
                await session.execute(text("update platform.audit_log set action = 'x'"))


async def _owner_scalar(sql: str, **params: Any) -> Any:
    from shared.db.session import get_engine

    async with get_engine(owner=True).connect() as conn:
        return await conn.scalar(text(sql), params)


# --- the admin route ---------------------------------------------------------------------


@pytest.fixture
def app() -> Litestar:
    from shared.http.app import create_service_app

    return create_service_app("audit", [AuditController])


def bearer(role: Role, tenant_id: uuid.UUID | None = None) -> dict[str, str]:
    token, _ = issue_access_token(user_id=new_id(), role=role, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {token}"}


class TestAuditRoute:
    async def test_admin_lists_newest_first_filters_and_pages(
        self, client: httpx.AsyncClient
    ) -> None:
        tenant, invoice, actor = new_id(), new_id(), staff()
        async with session_scope(STAFF) as session:
            for i in range(5):
                await record(
                    session,
                    actor,
                    action="invoice.updated" if i < 4 else "invoice.voided",
                    entity="invoice",
                    entity_id=invoice,
                    tenant_id=tenant,
                    before={"n": i},
                    after={"n": i + 1},
                )
            await record(
                session,
                staff(),
                action="invoice.updated",
                entity="invoice",
                entity_id=new_id(),
                tenant_id=new_id(),
                before=None,
                after={"n": 0},
            )
        admin = bearer(Role.ADMIN)

        resp = await client.get(
            "/v1/audit", params={"entity_id": str(invoice), "limit": 3}, headers=admin
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert [e["after"]["n"] for e in page["items"]] == [5, 4, 3]
        assert page["next_cursor"]
        assert page["items"][0]["action"] == "invoice.voided"
        assert page["items"][0]["changes"] == ["n"]
        resp = await client.get(
            "/v1/audit",
            params={"entity_id": str(invoice), "limit": 3, "cursor": page["next_cursor"]},
            headers=admin,
        )
        page2 = resp.json()
        assert [e["after"]["n"] for e in page2["items"]] == [2, 1]
        assert page2["next_cursor"] is None

        resp = await client.get(
            "/v1/audit",
            params={"tenant_id": str(tenant), "action": "invoice.voided"},
            headers=admin,
        )
        assert [e["entity_id"] for e in resp.json()["items"]] == [str(invoice)]
        resp = await client.get(
            "/v1/audit",
            params={"actor_id": str(actor.principal_id), "entity": "invoice"},
            headers=admin,
        )
        assert len(resp.json()["items"]) == 5

        future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        resp = await client.get(
            "/v1/audit", params={"entity_id": str(invoice), "since": future}, headers=admin
        )
        assert resp.json()["items"] == []
        resp = await client.get(
            "/v1/audit", params={"entity_id": str(invoice), "until": future}, headers=admin
        )
        assert len(resp.json()["items"]) == 5

    async def test_only_admins(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/audit")).status_code == 401
        for role, tenant in (
            (Role.ACCOUNT_MANAGER, None),
            (Role.OPERATOR, None),
            (Role.CLIENT_ADMIN, new_id()),
        ):
            resp = await client.get("/v1/audit", headers=bearer(role, tenant))
            assert resp.status_code == 403, role

    async def test_bad_filters_are_problems(self, client: httpx.AsyncClient) -> None:
        admin = bearer(Role.ADMIN)
        resp = await client.get("/v1/audit", params={"entity_id": "nope"}, headers=admin)
        assert resp.status_code in (400, 422)
        resp = await client.get("/v1/audit", params={"cursor": "garbage!"}, headers=admin)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "cursor"
        now = datetime.now(UTC)
        resp = await client.get(
            "/v1/audit",
            params={"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()},
            headers=admin,
        )
        assert resp.status_code == 422
