"""The endpoint routes: who may manage which endpoints, what is refused, the secret shown once."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from shared.audit.models import AuditLog
from shared.config import get_settings
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.onboarding.webhooks.conftest import api_key_headers, bearer


def without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


async def create(client, tenant_id, headers, url, event_types=("lead.received",)):
    return await client.post(
        f"/v1/tenants/{tenant_id}/webhooks",
        json={"url": url, "event_types": list(event_types), "description": "CRM"},
        headers=headers,
    )


class TestCreateEndpoint:
    async def test_client_admin_registers_and_sees_secret_once(
        self, client, tenant_id, receiver
    ) -> None:
        headers = bearer(Role.CLIENT_ADMIN, tenant_id)
        response = await create(client, tenant_id, headers, receiver.url())
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["secret"].startswith("whsec_")
        assert body["event_types"] == ["lead.received"]
        assert body["enabled"] is True
        assert response.headers["location"] == f"/v1/tenants/{tenant_id}/webhooks/{body['id']}"

        listed = await client.get(f"/v1/tenants/{tenant_id}/webhooks", headers=headers)
        assert listed.status_code == 200
        assert [e["id"] for e in listed.json()["items"]] == [body["id"]]
        assert "secret" not in listed.json()["items"][0]
        one = await client.get(f"/v1/tenants/{tenant_id}/webhooks/{body['id']}", headers=headers)
        assert one.status_code == 200
        assert "secret" not in one.json()

    async def test_unknown_event_type_is_422_naming_its_index(
        self, client, tenant_id, receiver
    ) -> None:
        response = await create(
            client,
            tenant_id,
            bearer(Role.CLIENT_ADMIN, tenant_id),
            receiver.url(),
            event_types=["lead.received", "lead.exploded"],
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["event_types[1]"]

    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
    async def test_loopback_url_refused_when_settings_do_not_allow_it(
        self, client, tenant_id, receiver, monkeypatch, host
    ) -> None:
        monkeypatch.setenv("KOLOKOL_WEBHOOK_ALLOW_LOOPBACK", "0")
        get_settings.cache_clear()
        try:
            assert not get_settings().webhook_allow_loopback
            response = await create(
                client,
                tenant_id,
                bearer(Role.CLIENT_ADMIN, tenant_id),
                f"http://{host}:{receiver.port}/hook",
            )
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [("url", "url_not_allowed")]

    async def test_private_address_refused(self, client, tenant_id) -> None:
        response = await create(
            client, tenant_id, bearer(Role.CLIENT_ADMIN, tenant_id), "https://10.0.0.7/hook"
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "url"

    async def test_api_key_needs_the_scope(self, client, tenant_id, receiver) -> None:
        ok = await create(
            client, tenant_id, await api_key_headers(tenant_id, ["webhooks:manage"]), receiver.url()
        )
        assert ok.status_code == 201, ok.text
        refused = await create(
            client, tenant_id, await api_key_headers(tenant_id, ["leads:write"]), receiver.url()
        )
        assert refused.status_code == 403

    async def test_client_user_may_not_manage_webhooks(self, client, tenant_id, receiver) -> None:
        response = await create(
            client, tenant_id, bearer(Role.CLIENT_USER, tenant_id), receiver.url()
        )
        assert response.status_code == 403

    async def test_staff_manage_any_tenant_but_not_a_missing_one(
        self, client, tenant_id, receiver
    ) -> None:
        staff = bearer(Role.ACCOUNT_MANAGER, None)
        assert (await create(client, tenant_id, staff, receiver.url())).status_code == 201
        missing = await create(client, new_id(), staff, receiver.url())
        assert missing.status_code == 404
        assert missing.json()["code"] == "tenant_not_found"


class TestIsolation:
    async def test_other_tenants_endpoint_is_404_like_a_missing_one(
        self, client, make_tenant, receiver
    ) -> None:
        tenant_a, tenant_b = await make_tenant(), await make_tenant()
        created = await create(
            client, tenant_a, bearer(Role.CLIENT_ADMIN, tenant_a), receiver.url()
        )
        endpoint_id = created.json()["id"]
        b_admin = bearer(Role.CLIENT_ADMIN, tenant_b)

        # B names A's tenant: the tenant itself is "not found"
        foreign_tenant = await client.get(
            f"/v1/tenants/{tenant_a}/webhooks/{endpoint_id}", headers=b_admin
        )
        missing_tenant = await client.get(
            f"/v1/tenants/{new_id()}/webhooks/{endpoint_id}",
            headers=bearer(Role.ADMIN, None),
        )
        assert foreign_tenant.status_code == missing_tenant.status_code == 404
        assert without_request_id(foreign_tenant.json()) == without_request_id(
            missing_tenant.json()
        )

        # B names A's endpoint under its own tenant: same as an endpoint that does not exist
        foreign = await client.get(
            f"/v1/tenants/{tenant_b}/webhooks/{endpoint_id}", headers=b_admin
        )
        missing = await client.get(f"/v1/tenants/{tenant_b}/webhooks/{new_id()}", headers=b_admin)
        assert foreign.status_code == missing.status_code == 404
        assert without_request_id(foreign.json()) == without_request_id(missing.json())
        for verb, suffix in (
            ("patch", ""),
            ("delete", ""),
            ("post", "/rotate-secret"),
            ("post", "/test"),
            ("get", "/deliveries"),
        ):
            kwargs = {"json": {"enabled": False}} if verb == "patch" else {}
            r = await getattr(client, verb)(
                f"/v1/tenants/{tenant_b}/webhooks/{endpoint_id}{suffix}", headers=b_admin, **kwargs
            )
            assert r.status_code == 404, (verb, suffix, r.text)
        assert (await client.get(f"/v1/tenants/{tenant_b}/webhooks", headers=b_admin)).json()[
            "items"
        ] == []


class TestChangeEndpoint:
    async def test_patch_rotate_delete(self, client, tenant_id, receiver) -> None:
        headers = bearer(Role.CLIENT_ADMIN, tenant_id)
        created = (await create(client, tenant_id, headers, receiver.url())).json()
        base = f"/v1/tenants/{tenant_id}/webhooks/{created['id']}"

        patched = await client.patch(
            base,
            json={"event_types": ["invoice.paid", "lead.stage_changed"], "enabled": False},
            headers=headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["event_types"] == ["invoice.paid", "lead.stage_changed"]
        assert patched.json()["enabled"] is False

        bad = await client.patch(base, json={"url": "https://192.168.1.1/x"}, headers=headers)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "url"

        rotated = await client.post(f"{base}/rotate-secret", headers=headers)
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != created["secret"]
        assert rotated.json()["secret_rotated_at"] is not None

        assert (await client.delete(base, headers=headers)).status_code == 204
        assert (await client.get(base, headers=headers)).status_code == 404

        async with session_scope(STAFF) as session:
            entries = (
                await session.execute(
                    select(AuditLog.action, AuditLog.before, AuditLog.after)
                    .where(AuditLog.entity_id == uuid.UUID(created["id"]))
                    .order_by(AuditLog.at, AuditLog.id)
                )
            ).all()
        assert [e.action for e in entries] == [
            "webhook_endpoint.created",
            "webhook_endpoint.updated",
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint.deleted",
        ]
        assert entries[1].after["enabled"] is False
        recorded = json.dumps([[e.before, e.after] for e in entries], default=str)
        assert created["secret"] not in recorded
        assert rotated.json()["secret"] not in recorded
