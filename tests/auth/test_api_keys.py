"""API keys live in onboarding.api_keys; every service resolves them with a short cache."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import text

from shared.auth.api_keys import (
    KEY_PREFIX,
    clear_api_key_cache,
    forget_api_key,
    generate_api_key,
    hash_api_key,
    resolve_api_key,
)
from shared.context import PrincipalKind
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.http.helpers import make_app
from tests.support.clients import ApiClient


async def _tenant() -> uuid.UUID:
    tenant_id = new_id()
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "insert into onboarding.tenants (id, slug, name, legal_name, inn, billing_email)"
                " values (:id, :slug, 'Acme', 'Acme LLC', :inn, 'billing@example.com')"
            ),
            {
                "id": tenant_id,
                "slug": f"acme-{tenant_id.hex[:12]}",
                "inn": str(tenant_id.int)[-12:],
            },
        )
    return tenant_id


async def _store_key(tenant_id: uuid.UUID, scopes: list[str]) -> tuple[str, uuid.UUID]:
    new = generate_api_key()
    key_id = new_id()
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "insert into onboarding.api_keys (tenant_id, id, name, prefix, key_hash, scopes)"
                " values (:tenant_id, :id, 'crm', :prefix, :key_hash, :scopes)"
            ),
            {
                "tenant_id": tenant_id,
                "id": key_id,
                "prefix": new.prefix,
                "key_hash": new.key_hash,
                "scopes": scopes,
            },
        )
    return new.key, key_id


async def _revoke(key_id: uuid.UUID) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(
            text("update onboarding.api_keys set revoked_at = now() where id = :id"), {"id": key_id}
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_api_key_cache()
    yield
    clear_api_key_cache()


def test_generated_key_shape() -> None:
    new = generate_api_key()
    assert new.key.startswith(KEY_PREFIX)
    assert len(new.key) >= len(KEY_PREFIX) + 32
    assert new.prefix == new.key[:12]
    assert new.key_hash == hash_api_key(new.key)
    assert len(new.key_hash) == 64
    assert generate_api_key().key != new.key


async def test_stored_key_resolves_to_its_tenant_and_scopes() -> None:
    tenant_id = await _tenant()
    key, key_id = await _store_key(tenant_id, ["leads:write", "leads:read"])
    ctx = await resolve_api_key(key)
    assert ctx is not None
    assert ctx.kind is PrincipalKind.API_KEY
    assert ctx.principal_id == key_id
    assert ctx.tenant_id == tenant_id
    assert ctx.scopes == frozenset({"leads:write", "leads:read"})
    assert ctx.has_scope("leads:write")
    assert not ctx.has_scope("billing:read")
    assert not ctx.is_staff


async def test_unknown_key_is_none() -> None:
    assert await resolve_api_key(generate_api_key().key) is None
    assert await resolve_api_key("not-a-key") is None


async def test_use_stamps_last_used_at() -> None:
    tenant_id = await _tenant()
    key, key_id = await _store_key(tenant_id, [])
    assert await resolve_api_key(key) is not None
    async with session_scope(STAFF) as session:
        used = await session.scalar(
            text("select last_used_at from onboarding.api_keys where id = :id"), {"id": key_id}
        )
    assert used is not None


async def test_revoked_key_is_refused_within_five_seconds(settings, api_client: ApiClient) -> None:
    tenant_id = await _tenant()
    key, key_id = await _store_key(tenant_id, ["leads:write"])
    app = make_app()
    headers = {"Authorization": f"Bearer {key}"}
    async with api_client(app) as client:
        r = await client.get(f"/v1/widgets/{uuid.uuid4()}", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == "api_key"
        await _revoke(key_id)
        revoked_at = time.monotonic()
        while True:
            r = await client.get(f"/v1/widgets/{uuid.uuid4()}", headers=headers)
            if r.status_code == 401:
                break
            assert time.monotonic() - revoked_at < 5, "revoked key still accepted after 5 s"
            await asyncio.sleep(0.2)
    assert r.json()["code"] == "invalid_api_key"
    assert time.monotonic() - revoked_at <= settings.api_key_cache_seconds + 1


async def test_forget_drops_the_cached_answer_at_once(settings) -> None:
    tenant_id = await _tenant()
    key, key_id = await _store_key(tenant_id, [])
    long_cache = replace(settings, api_key_cache_seconds=300)
    assert await resolve_api_key(key, settings=long_cache) is not None
    await _revoke(key_id)
    assert await resolve_api_key(key, settings=long_cache) is not None  # still cached
    forget_api_key(hash_api_key(key))
    assert await resolve_api_key(key, settings=long_cache) is None


async def test_unknown_api_key_over_http_is_401(api_client: ApiClient) -> None:
    async with api_client(make_app()) as client:
        r = await client.get(
            f"/v1/widgets/{uuid.uuid4()}",
            headers={"Authorization": f"Bearer {generate_api_key().key}"},
        )
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_api_key"


async def test_concurrent_requests_of_an_expired_key_share_one_lookup() -> None:
    from sqlalchemy import event

    from shared.db.session import get_engine

    tenant_id = await _tenant()
    key, key_id = await _store_key(tenant_id, ["leads:write"])
    clear_api_key_cache()
    lookups = 0

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        nonlocal lookups
        if "from onboarding.api_keys k" in statement:
            lookups += 1

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        results = await asyncio.gather(*(resolve_api_key(key) for _ in range(25)))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert {ctx.principal_id for ctx in results if ctx is not None} == {key_id}
    assert lookups == 1
