"""API keys over HTTP: shown once, stored hashed, scoped, listed, revoked and refused."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select

from services.onboarding.api_keys.models import ApiKey
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.onboarding.conftest import audit_entries, outbox_events

SCOPES = ["leads:write", "leads:read", "funnel:read"]


async def stored_key(key_id: str) -> ApiKey:
    async with session_scope(STAFF) as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    assert key is not None
    return key


class TestCreateApiKey:
    async def test_key_shown_once_and_only_hash_stored(self, api_client, world_a):
        client = api_client(user=world_a.admin)
        r = await client.post(
            f"/v1/tenants/{world_a.id}/api-keys", json={"name": "crm", "scopes": SCOPES}
        )
        assert r.status_code == 201, r.text
        created = r.json()
        key = created["key"]
        assert key.startswith("kk_live_")
        assert len(key) >= 40
        assert created["prefix"] == key[:12]
        assert r.headers["location"] == f"/v1/tenants/{world_a.id}/api-keys/{created['id']}"
        row = await stored_key(created["id"])
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.created_by == world_a.admin.id

        listing = await client.get(f"/v1/tenants/{world_a.id}/api-keys", params={"limit": 500})
        item = next(k for k in listing.json()["items"] if k["id"] == created["id"])
        assert set(item) == {
            "id",
            "tenant_id",
            "name",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        }
        assert key not in listing.text
        assert row.key_hash not in listing.text

        event = (await outbox_events("api_key.created", api_key_id=created["id"]))[0]
        assert key not in str(event)
        assert row.key_hash not in str(event)
        assert event["payload"]["scopes"] == SCOPES
        entries = await audit_entries(row.id)
        assert [e["action"] for e in entries] == ["api_key.create"]
        assert key not in str(entries)
        assert row.key_hash not in str(entries)

    async def test_unknown_scope_is_422_naming_its_index(self, api_client, staff, world_a):
        r = await api_client(user=staff[Role.ACCOUNT_MANAGER]).post(
            f"/v1/tenants/{world_a.id}/api-keys",
            json={"name": "x", "scopes": ["leads:read", "root", "funnel:read", "all"]},
        )
        assert r.status_code == 422
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("scopes[1]", "unknown_scope"),
            ("scopes[3]", "unknown_scope"),
        ]

    async def test_no_scopes_is_422(self, api_client, world_a):
        r = await api_client(user=world_a.admin).post(
            f"/v1/tenants/{world_a.id}/api-keys", json={"name": "x", "scopes": []}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "scopes"

    async def test_client_user_and_operator_cannot_manage_keys(self, api_client, staff, world_a):
        for person in (world_a.user, staff[Role.OPERATOR]):
            client = api_client(user=person)
            r = await client.post(
                f"/v1/tenants/{world_a.id}/api-keys", json={"name": "x", "scopes": SCOPES}
            )
            assert r.status_code == 403
            assert (await client.get(f"/v1/tenants/{world_a.id}/api-keys")).status_code == 403


class TestRevokeApiKey:
    async def test_revoked_key_is_refused(self, api_client, app, world_a):
        admin = api_client(user=world_a.admin)
        created = (
            await admin.post(
                f"/v1/tenants/{world_a.id}/api-keys", json={"name": "tmp", "scopes": SCOPES}
            )
        ).json()
        with_key = api_client(token=created["key"])
        # Authenticated (a key may not use /v1/users/me: 403, not 401).
        assert (await with_key.get("/v1/users/me")).status_code == 403
        r = await admin.post(f"/v1/tenants/{world_a.id}/api-keys/{created['id']}/revoke")
        assert r.status_code == 200
        assert r.json()["revoked_at"] is not None
        r = await with_key.get("/v1/users/me")
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_api_key"
        first_revoked_at = (await stored_key(created["id"])).revoked_at
        again = await admin.post(f"/v1/tenants/{world_a.id}/api-keys/{created['id']}/revoke")
        assert again.status_code == 200
        assert (await stored_key(created["id"])).revoked_at == first_revoked_at
        events = await outbox_events("api_key.revoked", api_key_id=created["id"])
        assert len(events) == 1
        assert created["key"] not in str(events)
        actions = [e["action"] for e in await audit_entries(uuid.UUID(created["id"]))]
        assert actions == ["api_key.create", "api_key.revoke"]

    async def test_staff_revokes_any_tenants_key(self, api_client, staff, world_a):
        from tests.support.factories import make_api_key

        key, _ = await make_api_key(world_a.tenant, name="staff-revokes")
        r = await api_client(user=staff[Role.ACCOUNT_MANAGER]).post(
            f"/v1/tenants/{world_a.id}/api-keys/{key.id}/revoke"
        )
        assert r.status_code == 200

    async def test_key_of_another_tenant_is_404_like_missing(self, api_client, world_a, world_b):
        from tests.support.factories import make_api_key

        key, _ = await make_api_key(world_a.tenant, name="not-yours")
        client = api_client(user=world_b.admin)
        # B's own tenant path with A's key id: the key is not found in B.
        r = await client.post(f"/v1/tenants/{world_b.id}/api-keys/{key.id}/revoke")
        assert r.status_code == 404
        assert r.json()["code"] == "api_key_not_found"
        # A's tenant path: the tenant itself is not found for B.
        r = await client.post(f"/v1/tenants/{world_a.id}/api-keys/{key.id}/revoke")
        assert r.status_code == 404
        assert r.json()["code"] == "tenant_not_found"
        assert (await stored_key(str(key.id))).revoked_at is None
