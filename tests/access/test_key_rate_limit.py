"""One rate limit per API key on every key-authenticated route, not just intake's
(issue #12, point 7; :class:`shared.http.ratelimit.ApiKeyRateLimitMiddleware`)."""

from __future__ import annotations

import time

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


async def test_a_single_lead_costs_what_it_did(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path keeps its price: for a key already resolved, neither the standing
    check nor the limit reads the database (the key's lookup brought the tenant's
    standing), and the limit is one leased Redis call, as intake's guard was."""
    from sqlalchemy import event

    from shared.db.session import get_engine
    from shared.http import ratelimit
    from tests.intake.conftest import fresh_phone, make_world

    world = await make_world()  # its rate 10 000/s: leases of 64 tokens
    client = api_client(create_combined_app(), token=world.key_text)
    first = await client.post(
        "/v1/leads", json={"project_id": str(world.project_id), "phone": fresh_phone()}
    )
    assert first.status_code == 201, first.text
    lease_calls = 0
    real = ratelimit._lease_script

    def counting(redis: object) -> object:
        nonlocal lease_calls
        lease_calls += 1
        return real(redis)  # type: ignore[arg-type]

    standing_reads = 0

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        nonlocal standing_reads
        if "from onboarding.tenants where id" in statement:  # the standing on its own
            standing_reads += 1

    monkeypatch.setattr(ratelimit, "_lease_script", counting)
    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    started = time.monotonic()
    try:
        for _ in range(20):
            answer = await client.post(
                "/v1/leads", json={"project_id": str(world.project_id), "phone": fresh_phone()}
            )
            assert answer.status_code == 201
            assert "ratelimit-remaining" in answer.headers
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert standing_reads == 0
    # one lease of 64 serves them all, unless the machine is so slow that it expired
    # (a lease lives one second)
    assert lease_calls <= 1 + int(time.monotonic() - started)
