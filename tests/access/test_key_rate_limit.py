"""One rate limit per API key on every key-authenticated route, not just intake's
(issue #12, point 7; :class:`shared.http.ratelimit.ApiKeyRateLimitMiddleware`)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from kolokol.app import create_combined_app
from shared.auth.standing import forget_standing
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.support.clients import ApiClient
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


async def limited_key(api_client: ApiClient, *, burst: int) -> httpx.AsyncClient:
    """A key of a fresh tenant whose bucket holds ``burst`` requests, refilled at 1/s."""
    tenant = await make_tenant()
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "update onboarding.tenants set rate_per_second = 1, rate_burst = :b where id = :id"
            ),
            {"b": burst, "id": tenant.id},
        )
    forget_standing(tenant.id)
    _, key = await make_api_key(tenant)
    return api_client(create_combined_app(), token=key)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/invoices", None),
        ("POST", "/v1/dnc", {"phone": "+79990001133"}),
        ("GET", "/v1/dnc", None),
    ],
)
async def test_a_key_that_empties_its_bucket_gets_429_on_any_route(
    api_client: ApiClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    client = await limited_key(api_client, burst=2)
    answers = [await client.request(method, path, json=body) for _ in range(3)]
    assert [a.status_code < 300 for a in answers[:2]] == [True, True], answers[0].text
    for admitted in answers[:2]:
        assert all(name in admitted.headers for name in RATE_HEADERS)
    limited = answers[2]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "2"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert int(limited.headers["ratelimit-reset"]) >= 1


async def test_every_route_of_a_key_draws_on_one_bucket(api_client: ApiClient) -> None:
    client = await limited_key(api_client, burst=3)
    assert (await client.get("/v1/leads")).status_code == 200
    assert (await client.get("/v1/invoices")).status_code == 200
    assert (await client.post("/v1/dnc", json={"phone": "+79990001144"})).status_code == 201
    assert (await client.get("/v1/dnc")).status_code == 429


async def test_people_are_not_limited_by_the_key_limit(api_client: ApiClient) -> None:
    tenant = await make_tenant()
    user = await make_user(Role.CLIENT_ADMIN, tenant_id=tenant.id)
    client = api_client(create_combined_app(), token=jwt_for(user))
    answer = await client.get("/v1/invoices")
    assert answer.status_code == 200
    assert not any(name in answer.headers for name in RATE_HEADERS)
