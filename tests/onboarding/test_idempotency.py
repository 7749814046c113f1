"""``Idempotency-Key`` on onboarding's creating POSTs (API.md, "Writes")."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.support.factories import random_inn, unique_email


def _tenant_body() -> dict[str, Any]:
    return {
        "name": f"Idem {uuid.uuid4().hex[:6]}",
        "legal_name": "ООО «Повтор»",  # noqa: RUF001
        "inn": random_inn(),
        "billing_email": unique_email("billing"),
    }


async def _count(table: str, column: str, value: str) -> int:
    async with session_scope(STAFF) as session:
        return int(
            await session.scalar(
                text(f"select count(*) from onboarding.{table} where {column} = :v"),
                {"v": value},
            )
            or 0
        )


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}


async def test_tenant_create_replays_the_first_answer(api_client, staff):
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    body, headers = _tenant_body(), _key()
    first = await am.post("/v1/tenants", json=body, headers=headers)
    again = await am.post("/v1/tenants", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count("tenants", "inn", body["inn"]) == 1
    assert await _count("outbox", "event_type", "tenant.created") >= 1


async def test_same_key_other_body_is_422_mismatch(api_client, staff):
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    headers = _key()
    assert (await am.post("/v1/tenants", json=_tenant_body(), headers=headers)).status_code == 201
    other = _tenant_body()
    r = await am.post("/v1/tenants", json=other, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_mismatch"
    assert await _count("tenants", "inn", other["inn"]) == 0


async def test_a_refused_request_is_not_remembered(api_client, staff):
    """A 4xx is not stored: fixing the request and retrying with the key works."""
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    headers, body = _key(), _tenant_body()
    bad = await am.post("/v1/tenants", json={**body, "inn": "7707083890"}, headers=headers)
    assert bad.status_code == 422
    r = await am.post("/v1/tenants", json={**body, "inn": "7707083890"}, headers=headers)
    assert r.status_code == 422
    assert "idempotent-replayed" not in r.headers


async def test_without_a_key_each_post_acts(api_client, staff):
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    r1 = await am.post("/v1/tenants", json=_tenant_body())
    r2 = await am.post("/v1/tenants", json=_tenant_body())
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] != r2.json()["id"]


async def test_api_key_create_refuses_a_key_rather_than_store_the_secret(api_client, world_a):
    ca = api_client(user=world_a.admin)
    body = {"name": f"idem-{uuid.uuid4().hex[:6]}", "scopes": ["leads:write"]}
    r = await ca.post(f"/v1/tenants/{world_a.id}/api-keys", json=body, headers=_key())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _count("api_keys", "name", body["name"]) == 0


async def test_keys_are_per_tenant(api_client, world_a, world_b):
    """Tenant B using tenant A's key string gets its own answer, never A's."""
    headers = _key()
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["lead.received"]}
    a = await api_client(user=world_a.admin).post(
        f"/v1/tenants/{world_a.id}/webhooks", json=body, headers=headers
    )
    b = await api_client(user=world_b.admin).post(
        f"/v1/tenants/{world_b.id}/webhooks", json=body, headers=headers
    )
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert "idempotent-replayed" not in b.headers
    assert b.json()["tenant_id"] == str(world_b.id)
    assert b.json()["id"] != a.json()["id"]


async def test_user_and_webhook_create_replay(api_client, staff, world_a):
    admin = api_client(user=staff[Role.ADMIN])
    user = {
        "email": unique_email("idem"),
        "name": "Idem",
        "role": "operator",
        "password": "long-enough-password",
    }
    headers = _key()
    r1 = await admin.post("/v1/users", json=user, headers=headers)
    r2 = await admin.post("/v1/users", json=user, headers=headers)
    assert r1.status_code == r2.status_code == 201
    assert r2.json() == r1.json()
    assert r2.headers["idempotent-replayed"] == "true"
    assert await _count("users", "email", user["email"]) == 1

    ca = api_client(user=world_a.admin)
    url, headers = f"/v1/tenants/{world_a.id}/webhooks", _key()
    hook = {"url": f"http://127.0.0.1:9/{uuid.uuid4().hex}", "event_types": ["lead.received"]}
    w1 = await ca.post(url, json=hook, headers=headers)
    w2 = await ca.post(url, json=hook, headers=headers)
    assert w1.status_code == w2.status_code == 201, w1.text
    assert w2.json() == w1.json()
    assert w2.headers["idempotent-replayed"] == "true"
    assert await _count("webhook_endpoints", "url", hook["url"]) == 1


async def test_concurrent_twins_create_one_tenant(api_client, staff):
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    body, headers = _tenant_body(), _key()
    answers = await asyncio.gather(
        *(am.post("/v1/tenants", json=body, headers=headers) for _ in range(4))
    )
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {201, 409}
    assert 201 in codes
    for r in answers:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_in_progress"
    assert await _count("tenants", "inn", body["inn"]) == 1


@pytest.mark.parametrize("value", ["", "x" * 256, "with space"])
async def test_malformed_key_is_422(api_client, staff, value):
    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    r = await am.post("/v1/tenants", json=_tenant_body(), headers={"Idempotency-Key": value})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"


def test_creating_posts_document_the_header(app):
    doc = app.openapi_schema.to_schema()
    for path in (
        "/v1/tenants",
        "/v1/users",
        "/v1/tenants/{tenant_id}/webhooks",
    ):
        post = doc["paths"][path]["post"]
        names = {p["name"] for p in post.get("parameters", [])}
        assert "Idempotency-Key" in names, path
        assert {"201", "409", "422"} <= set(post["responses"]), path
        schema = post["responses"]["201"]["content"]["application/json"]["schema"]
        assert "$ref" in schema, path


async def test_the_purge_job_drops_expired_records(api_client, staff):
    from services.onboarding.jobs import purge_idempotency_keys

    am = api_client(user=staff[Role.ACCOUNT_MANAGER])
    headers = _key()
    assert (await am.post("/v1/tenants", json=_tenant_body(), headers=headers)).status_code == 201
    key = headers["Idempotency-Key"]
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "update onboarding.idempotency_keys set expires_at = now() - interval '1 second'"
                " where key = :k"
            ),
            {"k": key},
        )
    await purge_idempotency_keys()
    assert await _count("idempotency_keys", "key", key) == 0
