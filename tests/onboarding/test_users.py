"""Users over HTTP: who creates whom, lists, me, passwords, disable/enable, events."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.onboarding.users.models import User
from shared.auth.passwords import verify_password
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.onboarding.conftest import audit_entries, outbox_events
from tests.support.factories import DEFAULT_PASSWORD, make_tenant, make_user, unique_email


def user_body(role: Role, tenant_id: uuid.UUID | None = None, /, **kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": unique_email(role.value),
        "name": "Иван Петров",
        "role": role.value,
        "password": "a-long-password",
    }
    if tenant_id:
        body["tenant_id"] = str(tenant_id)
    body.update(kw)
    return body


async def stored(user_id: str) -> User:
    async with session_scope(STAFF) as session:
        user = await session.scalar(select(User).where(User.id == uuid.UUID(user_id)))
    assert user is not None
    return user


class TestCreateUser:
    @pytest.mark.parametrize("role", list(Role))
    async def test_admin_creates_any_role(self, api_client, staff, world_a, role):
        tenant_id = world_a.id if role in (Role.CLIENT_ADMIN, Role.CLIENT_USER) else None
        r = await api_client(user=staff[Role.ADMIN]).post(
            "/v1/users", json=user_body(role, tenant_id)
        )
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"/v1/users/{r.json()['id']}"
        assert r.json()["role"] == role.value
        assert "password" not in r.text
        assert "password_hash" not in r.text

    async def test_email_stored_lower_case_password_argon2(self, api_client, staff, world_a):
        body = user_body(Role.CLIENT_USER, world_a.id, email="Mixed.Case@Example.TEST")
        r = await api_client(user=staff[Role.ADMIN]).post("/v1/users", json=body)
        assert r.json()["email"] == "mixed.case@example.test"
        user = await stored(r.json()["id"])
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "a-long-password")

    async def test_duplicate_email_any_case_is_409(self, api_client, staff, world_a):
        body = user_body(Role.CLIENT_USER, world_a.id)
        client = api_client(user=staff[Role.ADMIN])
        assert (await client.post("/v1/users", json=body)).status_code == 201
        body["email"] = str(body["email"]).upper()
        r = await client.post("/v1/users", json=body)
        assert r.status_code == 409
        assert r.json()["code"] == "email_taken"

    @pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNT_MANAGER, Role.OPERATOR])
    async def test_account_manager_cannot_create_staff(self, api_client, staff, role):
        r = await api_client(user=staff[Role.ACCOUNT_MANAGER]).post(
            "/v1/users", json=user_body(role)
        )
        assert r.status_code == 403

    async def test_account_manager_creates_client_users(self, api_client, staff, world_a):
        r = await api_client(user=staff[Role.ACCOUNT_MANAGER]).post(
            "/v1/users", json=user_body(Role.CLIENT_ADMIN, world_a.id)
        )
        assert r.status_code == 201
        assert r.json()["tenant_id"] == str(world_a.id)

    async def test_client_admin_creates_in_own_tenant_only(self, api_client, world_a, world_b):
        client = api_client(user=world_a.admin)
        r = await client.post("/v1/users", json=user_body(Role.CLIENT_USER))
        assert r.status_code == 201
        assert r.json()["tenant_id"] == str(world_a.id)
        r = await client.post("/v1/users", json=user_body(Role.CLIENT_USER, world_b.id))
        assert r.status_code == 404
        assert r.json()["code"] == "tenant_not_found"
        r = await client.post("/v1/users", json=user_body(Role.OPERATOR))
        assert r.status_code == 403

    async def test_client_user_and_operator_cannot_create(self, api_client, staff, world_a):
        for person in (world_a.user, staff[Role.OPERATOR]):
            r = await api_client(user=person).post(
                "/v1/users", json=user_body(Role.CLIENT_USER, world_a.id)
            )
            assert r.status_code == 403

    async def test_role_and_tenant_must_match(self, api_client, staff, world_a):
        client = api_client(user=staff[Role.ADMIN])
        r = await client.post("/v1/users", json=user_body(Role.OPERATOR, world_a.id))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "tenant_id"
        r = await client.post("/v1/users", json=user_body(Role.CLIENT_USER))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "tenant_id"
        r = await client.post("/v1/users", json=user_body(Role.CLIENT_USER, uuid.uuid4()))
        assert r.status_code == 404

    @pytest.mark.parametrize(
        ("field", "value"),
        [("password", "short-pw"), ("email", "nope"), ("role", "overlord"), ("name", "")],
    )
    async def test_bad_field_is_422_naming_it(self, api_client, staff, field, value):
        body = user_body(Role.OPERATOR, **{field: value})
        r = await api_client(user=staff[Role.ADMIN]).post("/v1/users", json=body)
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == [field]

    async def test_events_have_role_status_tenant_but_no_email_or_name(
        self, api_client, staff, world_a
    ):
        body = user_body(Role.OPERATOR, skills=["sales", "inbound"])
        r = await api_client(user=staff[Role.ADMIN]).post("/v1/users", json=body)
        user_id = r.json()["id"]
        events = await outbox_events("user.created", user_id=user_id)
        assert len(events) == 1
        payload = events[0]["payload"]
        assert (payload["role"], payload["status"], payload["tenant_id"]) == (
            "operator",
            "active",
            None,
        )
        assert str(body["email"]) not in str(events[0])
        assert "Иван" not in str(events[0])
        entries = await audit_entries(uuid.UUID(user_id))
        assert [e["action"] for e in entries] == ["user.create"]
        assert "password_hash" not in str(entries[0]["after"])


class TestReadUsers:
    async def test_client_admin_lists_own_tenant_only(self, api_client, world_a, world_b):
        r = await api_client(user=world_a.admin).get("/v1/users", params={"limit": 500})
        items = r.json()["items"]
        assert {str(world_a.admin.id), str(world_a.user.id)} <= {u["id"] for u in items}
        assert {u["tenant_id"] for u in items} == {str(world_a.id)}
        r = await api_client(user=world_a.admin).get(
            "/v1/users", params={"tenant_id": str(world_b.id)}
        )
        assert r.json()["items"] == []

    async def test_staff_filters_by_tenant_and_role(self, api_client, staff, world_a):
        r = await api_client(user=staff[Role.ADMIN]).get(
            "/v1/users", params={"tenant_id": str(world_a.id), "role": "client_user"}
        )
        items = r.json()["items"]
        assert str(world_a.user.id) in [u["id"] for u in items]
        assert {(u["tenant_id"], u["role"]) for u in items} == {(str(world_a.id), "client_user")}

    async def test_client_user_cannot_list(self, api_client, world_a):
        assert (await api_client(user=world_a.user).get("/v1/users")).status_code == 403

    async def test_me_and_self_read(self, api_client, world_a, staff):
        for person in (world_a.user, staff[Role.OPERATOR]):
            client = api_client(user=person)
            me = await client.get("/v1/users/me")
            assert me.status_code == 200
            assert me.json()["id"] == str(person.id)
            assert (await client.get(f"/v1/users/{person.id}")).json() == me.json()

    async def test_other_tenant_user_is_404(self, api_client, world_a, world_b):
        r = await api_client(user=world_b.admin).get(f"/v1/users/{world_a.user.id}")
        assert r.status_code == 404
        assert r.json()["code"] == "user_not_found"

    async def test_client_admin_cannot_see_staff(self, api_client, world_a, staff):
        r = await api_client(user=world_a.admin).get(f"/v1/users/{staff[Role.ADMIN].id}")
        assert r.status_code == 404


class TestChangeUsers:
    async def test_disable_stops_login_and_enable_restores(self, api_client, staff, world_a):
        email = unique_email("dis")
        user = await make_user(Role.CLIENT_USER, tenant_id=world_a.id, email=email)
        client = api_client(user=world_a.admin)
        login = api_client(address="10.1.0.1")
        creds = {"email": email, "password": DEFAULT_PASSWORD}
        assert (await login.post("/v1/auth/token", json=creds)).status_code == 200
        r = await client.post(f"/v1/users/{user.id}/disable")
        assert r.status_code == 200
        assert r.json()["status"] == "disabled"
        r = await login.post("/v1/auth/token", json=creds)
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_credentials"
        assert (await client.post(f"/v1/users/{user.id}/disable")).status_code == 409
        r = await client.post(f"/v1/users/{user.id}/enable")
        assert r.status_code == 200
        assert r.json()["status"] == "active"
        assert (await login.post("/v1/auth/token", json=creds)).status_code == 200
        actions = [e["action"] for e in await audit_entries(user.id)]
        assert actions[-2:] == ["user.disable", "user.enable"]
        events = await outbox_events("user.updated", user_id=str(user.id))
        assert [e["payload"]["status"] for e in events] == ["disabled", "active"]

    async def test_cannot_disable_yourself(self, api_client, world_a):
        r = await api_client(user=world_a.admin).post(f"/v1/users/{world_a.admin.id}/disable")
        assert r.status_code == 403

    async def test_account_manager_cannot_disable_staff(self, api_client, staff):
        r = await api_client(user=staff[Role.ACCOUNT_MANAGER]).post(
            f"/v1/users/{staff[Role.OPERATOR].id}/disable"
        )
        assert r.status_code == 403

    async def test_role_change_within_family(self, api_client, staff, world_a):
        user = await make_user(Role.CLIENT_USER, tenant_id=world_a.id)
        client = api_client(user=world_a.admin)
        r = await client.patch(f"/v1/users/{user.id}", json={"role": "client_admin"})
        assert r.status_code == 200
        assert r.json()["role"] == "client_admin"
        r = await client.patch(f"/v1/users/{user.id}", json={"role": "admin"})
        assert r.status_code == 403
        r = await api_client(user=staff[Role.ADMIN]).patch(
            f"/v1/users/{user.id}", json={"role": "operator"}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "role"
        assert "user.role_change" in [e["action"] for e in await audit_entries(user.id)]

    async def test_operator_skills_update_emits_skills(self, api_client, staff):
        op = await make_user(Role.OPERATOR)
        r = await api_client(user=staff[Role.ADMIN]).patch(
            f"/v1/users/{op.id}", json={"skills": ["sales", "inbound", "sales"]}
        )
        assert r.json()["skills"] == ["inbound", "sales"]
        events = await outbox_events("user.updated", user_id=str(op.id))
        assert events[-1]["payload"]["changed"] == ["skills"]


class TestPasswords:
    async def test_change_own_password(self, api_client, world_a):
        email = unique_email("pw")
        user = await make_user(Role.CLIENT_USER, tenant_id=world_a.id, email=email)
        client = api_client(user=user)
        r = await client.post(
            "/v1/users/me/password",
            json={"old_password": "wrong-password", "new_password": "brand-new-password"},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "old_password"
        r = await client.post(
            "/v1/users/me/password",
            json={"old_password": DEFAULT_PASSWORD, "new_password": "short"},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "new_password"
        r = await client.post(
            "/v1/users/me/password",
            json={"old_password": DEFAULT_PASSWORD, "new_password": "brand-new-password"},
        )
        assert r.status_code == 200
        login = api_client(address="10.1.0.2")
        good = {"email": email, "password": "brand-new-password"}
        assert (await login.post("/v1/auth/token", json=good)).status_code == 200
        old = {"email": email, "password": DEFAULT_PASSWORD}
        assert (await login.post("/v1/auth/token", json=old)).status_code == 401

    async def test_admin_resets_password_others_cannot(self, api_client, staff, world_a):
        email = unique_email("reset")
        user = await make_user(Role.CLIENT_USER, tenant_id=world_a.id, email=email)
        body = {"new_password": "reset-by-admin-1"}
        for other in (staff[Role.ACCOUNT_MANAGER], world_a.admin):
            r = await api_client(user=other).post(f"/v1/users/{user.id}/password", json=body)
            assert r.status_code == 403
        r = await api_client(user=staff[Role.ADMIN]).post(
            f"/v1/users/{user.id}/password", json=body
        )
        assert r.status_code == 200
        login = api_client(address="10.1.0.3")
        r = await login.post(
            "/v1/auth/token", json={"email": email, "password": body["new_password"]}
        )
        assert r.status_code == 200
        entries = await audit_entries(user.id)
        assert entries[-1]["action"] == "user.password_reset"
        assert "reset-by-admin-1" not in str(entries)

    async def test_api_key_has_no_me(self, api_client, world_a):
        r = await api_client(token=world_a.key_text).get("/v1/users/me")
        assert r.status_code == 403


class TestCreateAdminCli:
    async def test_create_admin_is_idempotent_and_promotes(self, api_client, world_a):
        from services.onboarding.cli import create_admin

        email = unique_email("cli")
        first = await create_admin(email.upper(), "first-password-1")
        again = await create_admin(email, "second-password-2")
        assert first == again
        user = await stored(str(first))
        assert (user.email, user.role, user.tenant_id) == (email, "admin", None)
        assert verify_password(user.password_hash, "second-password-2")

        promoted = await make_user(Role.CLIENT_USER, tenant_id=world_a.id)
        assert await create_admin(promoted.email, "promoted-password") == promoted.id
        user = await stored(str(promoted.id))
        assert (user.role, user.tenant_id) == ("admin", None)

    async def test_short_password_refused(self):
        from services.onboarding.cli import create_admin
        from shared.errors import ValidationFailed

        with pytest.raises(ValidationFailed):
            await create_admin(unique_email("cli"), "short")

    async def test_malformed_email_refused(self):
        from services.onboarding.cli import create_admin
        from shared.errors import ValidationFailed

        with pytest.raises(ValidationFailed) as caught:
            await create_admin("not-an-email", "long-enough-password")
        assert caught.value.errors[0].field == "email"


async def test_users_of_a_new_tenant_start_empty(api_client, staff):
    tenant = await make_tenant()
    r = await api_client(user=staff[Role.ADMIN]).get(
        "/v1/users", params={"tenant_id": str(tenant.id)}
    )
    assert r.json() == {"items": [], "next_cursor": None}
