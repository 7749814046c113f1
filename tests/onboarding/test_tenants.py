"""Tenants over HTTP: create, validation, duplicates, list, update, lifecycle, events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.onboarding.tenants import rules
from shared.context import Role
from shared.messaging.events import Envelope
from tests.onboarding.conftest import audit_entries, outbox_events
from tests.support.factories import make_tenant, random_inn, unique_email


def tenant_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": f"Ромашка {uuid.uuid4().hex[:6]}",
        "legal_name": "ООО «Ромашка»",  # noqa: RUF001
        "inn": random_inn(),
        "billing_email": unique_email("billing"),
    }
    body.update(overrides)
    return body


class TestCreateTenant:
    async def test_account_manager_creates_pending_tenant_with_defaults(self, api_client, staff):
        client = api_client(user=staff[Role.ACCOUNT_MANAGER])
        body = tenant_body(billing_email="Billing@Example.TEST")
        r = await client.post("/v1/tenants", json=body)
        assert r.status_code == 201, r.text
        tenant = r.json()
        assert r.headers["location"] == f"/v1/tenants/{tenant['id']}"
        assert tenant["status"] == "pending"
        assert tenant["currency"] == "RUB"
        assert tenant["timezone"] == "Europe/Moscow"
        assert tenant["tax_rate_bp"] == 2200
        assert tenant["billing_email"] == "billing@example.test"
        assert tenant["slug"] == rules.slugify(body["name"])
        got = await client.get(f"/v1/tenants/{tenant['id']}")
        assert got.json() == tenant

    async def test_foreign_currency_defaults_to_zero_tax(self, api_client, staff):
        r = await api_client(user=staff[Role.ADMIN]).post(
            "/v1/tenants", json=tenant_body(currency="EUR", timezone="Europe/Berlin")
        )
        assert r.status_code == 201, r.text
        assert (r.json()["currency"], r.json()["tax_rate_bp"]) == ("EUR", 0)

    async def test_same_name_gets_next_free_slug(self, api_client, staff):
        client = api_client(user=staff[Role.ADMIN])
        name = f"ОкнаПро {uuid.uuid4().hex[:4]}"
        slugs = []
        for _ in range(3):
            r = await client.post("/v1/tenants", json=tenant_body(name=name))
            assert r.status_code == 201, r.text
            slugs.append(r.json()["slug"])
        base = rules.slugify(name)
        assert slugs == [base, f"{base}-2", f"{base}-3"]

    async def test_given_slug_taken_is_409(self, api_client, staff):
        client = api_client(user=staff[Role.ADMIN])
        slug = f"acme-{uuid.uuid4().hex[:6]}"
        assert (await client.post("/v1/tenants", json=tenant_body(slug=slug))).status_code == 201
        r = await client.post("/v1/tenants", json=tenant_body(slug=slug))
        assert r.status_code == 409
        assert r.json()["code"] == "slug_taken"

    async def test_bad_inn_check_digit_is_422_naming_inn(self, api_client, staff):
        inn = random_inn()
        bad = inn[:-1] + str((int(inn[-1]) + 1) % 10)
        r = await api_client(user=staff[Role.ADMIN]).post("/v1/tenants", json=tenant_body(inn=bad))
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("inn", "invalid_inn")]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("inn", "12345"),
            ("inn", "77070838AB"),
            ("name", ""),
            ("name", "   "),
            ("name", "x" * 201),
            ("billing_email", "not-an-email"),
            ("currency", "rub"),
            ("tax_rate_bp", 10001),
            ("tax_rate_bp", -1),
            ("slug", "Bad Slug"),
        ],
    )
    async def test_malformed_field_is_422_naming_it(self, api_client, staff, field, value):
        r = await api_client(user=staff[Role.ADMIN]).post(
            "/v1/tenants", json=tenant_body(**{field: value})
        )
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]

    @pytest.mark.parametrize(
        ("field", "value", "code"),
        [("currency", "XYZ", "invalid_currency"), ("timezone", "Mars/Olympus", "invalid_timezone")],
    )
    async def test_unknown_currency_or_zone_is_422(self, api_client, staff, field, value, code):
        r = await api_client(user=staff[Role.ADMIN]).post(
            "/v1/tenants", json=tenant_body(**{field: value})
        )
        assert r.status_code == 422
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [(field, code)]

    async def test_duplicate_inn_is_409_naming_holder_to_staff(self, api_client, staff):
        client = api_client(user=staff[Role.ACCOUNT_MANAGER])
        first = (await client.post("/v1/tenants", json=tenant_body())).json()
        r = await client.post("/v1/tenants", json=tenant_body(inn=first["inn"]))
        assert r.status_code == 409
        problem = r.json()
        assert problem["code"] == "inn_taken"
        assert problem["tenant"] == {"id": first["id"], "name": first["name"]}
        assert first["name"] in problem["detail"]

    async def test_changing_inn_to_a_taken_one_is_409(self, api_client, staff):
        client = api_client(user=staff[Role.ADMIN])
        a = (await client.post("/v1/tenants", json=tenant_body())).json()
        b = (await client.post("/v1/tenants", json=tenant_body())).json()
        r = await client.patch(f"/v1/tenants/{b['id']}", json={"inn": a["inn"]})
        assert r.status_code == 409
        assert r.json()["tenant"]["id"] == a["id"]

    @pytest.mark.parametrize("role", [Role.OPERATOR])
    async def test_operator_cannot_create_or_list(self, api_client, staff, role):
        client = api_client(user=staff[role])
        assert (await client.post("/v1/tenants", json=tenant_body())).status_code == 403
        assert (await client.get("/v1/tenants")).status_code == 403

    async def test_client_cannot_create_list_or_change_status(self, api_client, world_a):
        for person in (world_a.admin, world_a.user):
            client = api_client(user=person)
            assert (await client.post("/v1/tenants", json=tenant_body())).status_code == 403
            assert (await client.get("/v1/tenants")).status_code == 403
            r = await client.post(f"/v1/tenants/{world_a.id}/suspend", json={"reason": "x"})
            assert r.status_code == 403
            r = await client.patch(f"/v1/tenants/{world_a.id}", json={"name": "Mine now"})
            assert r.status_code == 403

    async def test_created_event_feeds_consumers_but_its_webhook_form_has_no_contact_data(
        self, api_client, staff
    ):
        r = await api_client(user=staff[Role.ADMIN]).post("/v1/tenants", json=tenant_body())
        tenant = r.json()
        events = await outbox_events("tenant.created", tenant_id=tenant["id"])
        assert len(events) == 1
        payload = events[0]["payload"]
        assert payload["status"] == "pending"
        assert payload["currency"] == "RUB"
        # Pricing prints the legal name and INN on proposals; billing needs the email.
        assert payload["inn"] == tenant["inn"]
        assert payload["legal_name"] == tenant["legal_name"]
        envelope = Envelope(
            id=uuid.uuid4(),
            type="tenant.created",
            version=1,
            tenant_id=uuid.UUID(tenant["id"]),
            occurred_at=datetime.now(UTC),
            payload=payload,
        )
        assert tenant["billing_email"] not in repr(envelope)
        assert tenant["inn"] not in repr(envelope)
        entries = await audit_entries(uuid.UUID(tenant["id"]))
        assert [e["action"] for e in entries] == ["tenant.create"]
        assert entries[0]["after"]["inn"] == tenant["inn"]


class TestReadTenant:
    async def test_client_reads_own_tenant(self, api_client, world_a):
        for person in (world_a.admin, world_a.user):
            r = await api_client(user=person).get(f"/v1/tenants/{world_a.id}")
            assert r.status_code == 200
            assert r.json()["id"] == str(world_a.id)

    async def test_other_tenant_is_same_404_as_missing(self, api_client, world_a, world_b):
        client = api_client(user=world_b.admin)
        other = await client.get(f"/v1/tenants/{world_a.id}")
        missing = await client.get(f"/v1/tenants/{uuid.uuid4()}")
        assert other.status_code == missing.status_code == 404
        strip = lambda p: {k: v for k, v in p.items() if k not in ("detail", "request_id")}  # noqa: E731
        assert strip(other.json()) == strip(missing.json())
        assert other.json()["code"] == "tenant_not_found"
        assert str(world_a.id) in other.json()["detail"]  # it echoes the asked id only


class TestListTenants:
    async def test_filter_by_status_and_paginate(self, api_client, staff):
        made = [await make_tenant(status="suspended") for _ in range(3)]
        client = api_client(user=staff[Role.ACCOUNT_MANAGER])
        seen: list[str] = []
        cursor = None
        while True:
            params = {"status": "suspended", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = await client.get("/v1/tenants", params=params)
            assert r.status_code == 200
            page = r.json()
            assert all(t["status"] == "suspended" for t in page["items"])
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen))
        assert {str(t.id) for t in made} <= set(seen)
        # newest first
        positions = [seen.index(str(t.id)) for t in made]
        assert positions == sorted(positions, reverse=True)

    async def test_bad_status_filter_is_422(self, api_client, staff):
        r = await api_client(user=staff[Role.ADMIN]).get("/v1/tenants", params={"status": "asleep"})
        assert r.status_code in (400, 422)


class TestUpdateTenant:
    async def test_patch_changes_only_given_fields_and_emits(self, api_client, staff):
        tenant = await make_tenant()
        client = api_client(user=staff[Role.ACCOUNT_MANAGER])
        r = await client.patch(
            f"/v1/tenants/{tenant.id}", json={"tax_rate_bp": 1000, "timezone": "Asia/Novosibirsk"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["tax_rate_bp"], body["timezone"], body["name"]) == (
            1000,
            "Asia/Novosibirsk",
            tenant.name,
        )
        events = await outbox_events("tenant.updated", tenant_id=str(tenant.id))
        assert [e["payload"]["changed"] for e in events] == [["tax_rate_bp", "timezone"]]
        entries = await audit_entries(tenant.id)
        update = [e for e in entries if e["action"] == "tenant.update"]
        assert update[0]["before"]["tax_rate_bp"] == 2200
        assert update[0]["after"]["tax_rate_bp"] == 1000

    async def test_patch_with_no_change_emits_nothing(self, api_client, staff):
        tenant = await make_tenant()
        r = await api_client(user=staff[Role.ADMIN]).patch(
            f"/v1/tenants/{tenant.id}", json={"name": tenant.name}
        )
        assert r.status_code == 200
        assert await outbox_events("tenant.updated", tenant_id=str(tenant.id)) == []

    async def test_patch_validates_like_create(self, api_client, staff):
        tenant = await make_tenant()
        client = api_client(user=staff[Role.ADMIN])
        r = await client.patch(f"/v1/tenants/{tenant.id}", json={"inn": "7707083894"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "inn"
        r = await client.patch(f"/v1/tenants/{tenant.id}", json={"status": "active"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "status"


class TestLifecycle:
    async def test_full_lifecycle_is_recorded(self, api_client, staff):
        tenant = await make_tenant(status="pending")
        client = api_client(user=staff[Role.ACCOUNT_MANAGER])
        steps = [
            ("activate", "active"),
            ("suspend", "suspended"),
            ("resume", "active"),
            ("close", "closed"),
        ]
        for verb, status in steps:
            r = await client.post(f"/v1/tenants/{tenant.id}/{verb}", json={"reason": f"r-{verb}"})
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["status_reason"]) == (status, f"r-{verb}")
        r = await client.get(f"/v1/tenants/{tenant.id}/status-changes")
        history = r.json()["items"]
        assert [(h["from_status"], h["to_status"], h["reason"]) for h in reversed(history)] == [
            ("pending", "active", "r-activate"),
            ("active", "suspended", "r-suspend"),
            ("suspended", "active", "r-resume"),
            ("active", "closed", "r-close"),
        ]
        assert all(h["actor"] == f"user:{staff[Role.ACCOUNT_MANAGER].id}" for h in history)
        events = await outbox_events("tenant.status_changed", tenant_id=str(tenant.id))
        assert [(e["payload"]["from_status"], e["payload"]["to_status"]) for e in events] == [
            ("pending", "active"),
            ("active", "suspended"),
            ("suspended", "active"),
            ("active", "closed"),
        ]

    @pytest.mark.parametrize(
        ("start", "verb", "to"),
        [
            ("pending", "suspend", "suspended"),
            ("pending", "resume", "active"),
            ("active", "activate", "active"),
            ("suspended", "suspend", "suspended"),
            ("closed", "activate", "active"),
            ("closed", "resume", "active"),
            ("closed", "close", "closed"),
        ],
    )
    async def test_illegal_transition_is_409_naming_from_and_to(
        self, api_client, staff, start, verb, to
    ):
        tenant = await make_tenant(status=start)
        r = await api_client(user=staff[Role.ADMIN]).post(
            f"/v1/tenants/{tenant.id}/{verb}", json={"reason": "try"}
        )
        assert r.status_code == 409
        problem = r.json()
        assert (problem["code"], problem["from"], problem["to"]) == (
            "illegal_transition",
            start,
            to,
        )
        assert start in problem["detail"]
        assert to in problem["detail"]

    async def test_reason_is_required(self, api_client, staff):
        tenant = await make_tenant(status="pending")
        r = await api_client(user=staff[Role.ADMIN]).post(
            f"/v1/tenants/{tenant.id}/activate", json={}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "reason"
