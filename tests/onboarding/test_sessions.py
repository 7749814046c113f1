"""Tokens end with the account: disabled, password or role changed, tenant closed,
unknown user; refresh tokens rotate, a reused one revokes its family; logout."""

from __future__ import annotations

import uuid

import pytest

from services.onboarding.tenants.service import tenants
from services.onboarding.users.models import UserStatus
from services.onboarding.users.service import users
from shared.auth.people import clear_people_cache
from shared.auth.tokens import issue_access_token
from shared.context import SYSTEM, Ctx, PrincipalKind, Role
from shared.db.session import STAFF, session_scope
from tests.support.factories import DEFAULT_PASSWORD, make_tenant, make_user, unique_email


def _address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


async def _login(api_client, email: str) -> dict:
    r = await api_client(address=_address()).post(
        "/v1/auth/token", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _me(api_client, token: str) -> int:
    return (await api_client(token=token).get("/v1/users/me")).status_code


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty standing cache, as another process would."""
    clear_people_cache()


class TestAccessTokensEndWithTheAccount:
    async def test_a_token_for_an_unknown_user_is_refused(self, api_client):
        token, _ = issue_access_token(user_id=uuid.uuid4(), role=Role.ADMIN, tenant_id=None)
        r = await api_client(token=token, real_callers=False).get("/v1/users/me")
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_token"

    async def test_a_disabled_users_token_stops_at_once(self, api_client, staff):
        email = unique_email("leaver")
        user = await make_user(Role.OPERATOR, email=email)
        body = await _login(api_client, email)
        assert await _me(api_client, body["access_token"]) == 200
        r = await api_client(user=staff[Role.ADMIN]).post(f"/v1/users/{user.id}/disable")
        assert r.status_code == 200, r.text
        assert await _me(api_client, body["access_token"]) == 401
        r = await api_client().post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert r.status_code == 401

    async def test_a_password_reset_ends_the_old_tokens(self, api_client):
        email = unique_email("reset")
        user = await make_user(Role.OPERATOR, email=email)
        body = await _login(api_client, email)
        async with session_scope(STAFF) as session:
            admin = Ctx(kind=PrincipalKind.USER, principal_id=uuid.uuid4(), role=Role.ADMIN)
            await users.reset_password(session, admin, user.id, "another-password-1")
        assert await _me(api_client, body["access_token"]) == 401

    async def test_a_role_change_ends_the_old_role_token(self, api_client, world_a):
        email = unique_email("demoted")
        user = await make_user(Role.CLIENT_ADMIN, tenant_id=world_a.id, email=email)
        body = await _login(api_client, email)
        r = await api_client(user=world_a.admin).patch(
            f"/v1/users/{user.id}", json={"role": "client_user"}
        )
        assert r.status_code == 200, r.text
        assert await _me(api_client, body["access_token"]) == 401
        # the refresh token still works and carries the new role
        r = await api_client().post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["user"]["role"] == "client_user"
        assert await _me(api_client, r.json()["access_token"]) == 200

    async def test_a_closed_tenants_tokens_stop(self, api_client):
        tenant = await make_tenant()
        email = unique_email("closing")
        await make_user(Role.CLIENT_ADMIN, tenant_id=tenant.id, email=email)
        body = await _login(api_client, email)
        assert await _me(api_client, body["access_token"]) == 200
        async with session_scope(STAFF) as session:
            await tenants.change_status(session, SYSTEM, tenant.id, "close", "test")
        assert await _me(api_client, body["access_token"]) == 401

    async def test_a_change_in_another_process_is_seen_within_the_cache_window(self, api_client):
        email = unique_email("elsewhere")
        user = await make_user(Role.OPERATOR, email=email)
        body = await _login(api_client, email)
        assert await _me(api_client, body["access_token"]) == 200  # cached now
        async with session_scope(STAFF) as session:
            u = await session.get(type(user), user.id)
            assert u is not None
            u.status = UserStatus.DISABLED.value  # as another process would, no forget
        clear_people_cache()  # the cache window (3 s) passing
        assert await _me(api_client, body["access_token"]) == 401


class TestRefreshTokens:
    async def test_refresh_rotates_and_reuse_revokes_the_family(self, api_client):
        email = unique_email("rotate")
        await make_user(Role.OPERATOR, email=email)
        first = await _login(api_client, email)
        assert first["refresh_token"].startswith("kk_rt_")
        assert first["refresh_expires_in"] == 30 * 86_400
        client = api_client()
        r = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert set(second) == set(first)
        assert await _me(api_client, second["access_token"]) == 200
        # the spent token again: 401, and the whole family (the second one too) is revoked
        r = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_refresh_token"
        r = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert r.status_code == 401
        assert await _me(api_client, second["access_token"]) == 401

    async def test_unknown_refresh_token_is_401(self, api_client):
        r = await api_client().post("/v1/auth/refresh", json={"refresh_token": "kk_rt_nope"})
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_refresh_token"

    async def test_logout_revokes_the_family_and_the_access_token(self, api_client):
        email = unique_email("logout")
        await make_user(Role.OPERATOR, email=email)
        body = await _login(api_client, email)
        other = await _login(api_client, email)
        client = api_client()
        r = await client.post("/v1/auth/logout", json={"refresh_token": body["refresh_token"]})
        assert r.status_code == 200
        assert r.json() == {"revoked": True}
        assert await _me(api_client, body["access_token"]) == 401
        r = await client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert r.status_code == 401
        # another session of the same person refreshes and goes on
        r = await client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert r.status_code == 200
        r = await client.post("/v1/auth/logout", json={"refresh_token": body["refresh_token"]})
        assert r.json() == {"revoked": False}
