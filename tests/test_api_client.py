"""The one client factory of the HTTP tests (tests/support/clients.py): who it calls as."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar

from shared.auth.tokens import decode_access_token
from shared.context import Role
from tests.http.helpers import make_app
from tests.support.clients import ApiClient, credentials
from tests.support.factories import make_user


@pytest.fixture(scope="module")
def app() -> Litestar:
    return make_app()


def caller(headers: dict[str, str]) -> tuple[Role | None, uuid.UUID | None, uuid.UUID | None]:
    ctx = decode_access_token(headers["Authorization"].removeprefix("Bearer "))
    return ctx.role, ctx.principal_id, ctx.tenant_id


class TestCredentials:
    async def test_a_user_calls_with_their_own_token(self) -> None:
        user = await make_user(Role.ACCOUNT_MANAGER)
        assert caller(credentials(user=user)) == (Role.ACCOUNT_MANAGER, user.id, None)

    def test_a_role_calls_as_the_given_user_and_tenant(self) -> None:
        user_id, tenant_id = uuid.uuid4(), uuid.uuid4()
        headers = credentials(role=Role.CLIENT_ADMIN, user_id=user_id, tenant_id=tenant_id)
        assert caller(headers) == (Role.CLIENT_ADMIN, user_id, tenant_id)

    def test_a_token_is_sent_as_it_is_and_no_caller_sends_nothing(self) -> None:
        assert credentials(token="kk_live_abc") == {"Authorization": "Bearer kk_live_abc"}
        assert credentials() == {}

    def test_the_caller_is_named_once(self) -> None:
        with pytest.raises(TypeError, match="name the caller once"):
            credentials(token="t", role=Role.ADMIN)
        with pytest.raises(TypeError, match="go with role="):
            credentials(token="t", tenant_id=uuid.uuid4())


class TestFactory:
    async def test_without_an_app_it_calls_the_packages_app(self, api_client: ApiClient) -> None:
        r = await api_client(role=Role.ADMIN).get(f"/v1/widgets/{uuid.uuid4()}")
        assert r.status_code == 200
        assert r.json()["role"] == "admin"

    async def test_another_app_and_headers(self, api_client: ApiClient) -> None:
        other = make_app()
        client = api_client(other, token="not-a-jwt", headers={"X-Request-Id": "abc"})
        r = await client.get(f"/v1/widgets/{uuid.uuid4()}")
        assert r.status_code == 401
        assert r.headers["x-request-id"] == "abc"

    async def test_the_client_fixture_has_no_caller(self, client) -> None:
        assert (await client.get(f"/v1/widgets/{uuid.uuid4()}")).status_code == 401
