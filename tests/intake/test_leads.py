"""POST /v1/leads, dedupe, batch, reading, rules and isolation (issue points 1-4, 6, 9, 10)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from shared.auth.standing import forget_standing
from shared.messaging.events import Envelope, webhook_payload
from tests.intake.conftest import (
    World,
    fresh_landline,
    fresh_phone,
    make_project,
    make_world,
    rows,
)
from tests.support.clients import ApiClient


def body(world: World, **extra: object) -> dict[str, object]:
    return {"project_id": str(world.project_id), "phone": fresh_phone(), **extra}


class TestCreateLead:
    async def test_creates_lead_with_e164_phone_and_zone_of_landline(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        phone = fresh_landline()
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json=body(world_a, phone=phone, name="Ivan", source="site")
        )
        assert r.status_code == 201, r.text
        lead = r.json()
        assert lead["phone"] == "+7" + "".join(c for c in phone[2:] if c.isdigit())
        assert lead["timezone"] == "Europe/Moscow"
        assert lead["timezone_certain"] is True
        assert lead["stage"] == "new"
        assert lead["duplicate"] is False
        assert r.headers["location"] == f"/v1/leads/{lead['id']}"

    async def test_mobile_number_takes_given_zone_else_project_zone(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        given = await client.post("/v1/leads", json=body(world_a, timezone="Asia/Vladivostok"))
        assert given.json()["timezone"] == "Asia/Vladivostok"
        assert given.json()["timezone_certain"] is True
        fallback = await client.post("/v1/leads", json=body(world_a))
        assert fallback.json()["timezone"] == "Asia/Yekaterinburg"
        assert fallback.json()["timezone_certain"] is False

    async def test_client_user_may_submit(self, world_a: World, api_client: ApiClient) -> None:
        r = await api_client(token=world_a.user_token).post("/v1/leads", json=body(world_a))
        assert r.status_code == 201

    async def test_invalid_phone_is_422_naming_the_field(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json=body(world_a, phone="12345")
        )
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {
                "field": "phone",
                "code": "invalid_phone",
                "message": "not a valid number for region RU",
            }
        ]

    async def test_required_fields_consent_and_size_are_checked(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        project = await make_project(
            world_a.id, required_lead_fields=["phone", "email", "budget"], require_consent=True
        )
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads",
            json={
                "project_id": str(project),
                "phone": fresh_phone(),
                "fields": {"blob": "x" * 17_000},
            },
        )
        assert r.status_code == 422
        fields = {(e["field"], e["code"]) for e in r.json()["errors"]}
        assert fields == {
            ("email", "required"),
            ("fields.budget", "required"),
            ("consent", "required"),
            ("fields", "too_large"),
        }

    async def test_unknown_field_and_bad_email_are_422(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        r = await client.post("/v1/leads", json=body(world_a, surname="x"))
        assert r.status_code == 422
        r = await client.post("/v1/leads", json=body(world_a, email="not-an-email"))
        assert r.json()["errors"][0]["field"] == "email"

    async def test_consent_is_stored(self, world_a: World, api_client: ApiClient) -> None:
        consent = {
            "given_at": "2026-11-01T10:00:00Z",
            "method": "web_form",
            "wording_version": "v3",
        }
        client = api_client(token=world_a.key_text)
        r = await client.post("/v1/leads", json=body(world_a, consent=consent))
        detail = (await client.get(f"/v1/leads/{r.json()['id']}")).json()
        assert detail["consent"]["wording_version"] == "v3"


class TestDedupe:
    async def test_duplicate_phone_returns_existing_with_touch(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        first = await client.post("/v1/leads", json=body(world_a, phone="+7 916 555-01-01"))
        again = await client.post(
            "/v1/leads", json=body(world_a, phone="8 916 555 01 01", source="repeat")
        )
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["id"] == first.json()["id"]
        detail = (await client.get(f"/v1/leads/{first.json()['id']}")).json()
        assert [h["kind"] for h in detail["history"]] == ["received", "touch"]
        received, touch = detail["history"]
        assert received["actor"] == touch["actor"]  # the same API key sent both
        assert received["actor"].startswith("api_key:")
        assert (received["to_stage"], received["source"]) == ("new", None)
        assert touch["source"] == "repeat"
        events = await rows(
            "select * from intake.outbox where event_type = 'lead.received'"
            " and payload->>'lead_id' = :id",
            id=first.json()["id"],
        )
        assert len(events) == 1

    async def test_duplicate_external_id(self, world_a: World, api_client: ApiClient) -> None:
        client = api_client(token=world_a.key_text)
        first = await client.post("/v1/leads", json=body(world_a, external_id="crm-77"))
        again = await client.post("/v1/leads", json=body(world_a, external_id="crm-77"))
        assert again.json()["duplicate"] is True
        assert again.json()["id"] == first.json()["id"]

    async def test_concurrent_identical_posts_create_one_lead(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        payload = body(world_a)
        answers = await asyncio.gather(*(client.post("/v1/leads", json=payload) for _ in range(20)))
        assert sorted(r.status_code for r in answers) == [200] * 19 + [201]
        assert len({r.json()["id"] for r in answers}) == 1
        found = await rows(
            "select id from intake.leads where tenant_id = :t and phone_e164 = :p",
            t=world_a.id,
            p=answers[0].json()["phone"],
        )
        assert len(found) == 1

    async def test_dedupe_window_boundary(self, world_a: World, api_client: ApiClient) -> None:
        project = await make_project(world_a.id, dedupe_window_days=1)
        client = api_client(token=world_a.key_text)
        payload = {"project_id": str(project), "phone": fresh_phone()}
        first = (await client.post("/v1/leads", json=payload)).json()

        async def age(lead_id: str, by: timedelta) -> None:
            await rows(
                "update intake.leads set received_at = now() - CAST(:by AS interval)"
                " where id = :id returning id",
                by=by,
                id=uuid.UUID(lead_id),
            )

        await age(first["id"], timedelta(hours=24) - timedelta(seconds=5))
        inside = await client.post("/v1/leads", json=payload)
        assert inside.status_code == 200
        assert inside.json()["id"] == first["id"]

        await age(first["id"], timedelta(hours=24) + timedelta(seconds=1))
        after = await client.post("/v1/leads", json=payload)
        assert after.status_code == 201
        assert after.json()["id"] != first["id"]
        again = await client.post("/v1/leads", json=payload)
        assert again.json()["id"] == after.json()["id"]


class TestIdempotency:
    async def test_replay_is_byte_for_byte(self, world_a: World, api_client: ApiClient) -> None:
        client = api_client(token=world_a.key_text)
        payload = body(world_a)
        headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = await client.post("/v1/leads", json=payload, headers=headers)
        second = await client.post("/v1/leads", json=payload, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.content == first.content
        assert second.headers["idempotent-replayed"] == "true"
        assert second.headers["location"] == first.headers["location"]
        assert "idempotent-replayed" not in first.headers

    async def test_same_key_other_body_is_422(self, world_a: World, api_client: ApiClient) -> None:
        client = api_client(token=world_a.key_text)
        headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        await client.post("/v1/leads", json=body(world_a), headers=headers)
        r = await client.post("/v1/leads", json=body(world_a), headers=headers)
        assert r.status_code == 422
        assert r.json()["code"] == "idempotency_mismatch"

    async def test_key_held_by_running_request_is_409(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        from shared.db.session import TenantScope, session_scope
        from shared.http.idempotency import lock_key

        key = f"k-{uuid.uuid4()}"
        async with session_scope(TenantScope(world_a.id)) as running:
            assert await lock_key(running, "intake", world_a.id, key)
            r = await api_client(token=world_a.key_text).post(
                "/v1/leads", json=body(world_a), headers={"Idempotency-Key": key}
            )
        assert r.status_code == 409
        assert r.json()["code"] == "idempotency_in_progress"

    async def test_key_is_stored_with_the_lead(self, world_a: World, api_client: ApiClient) -> None:
        key = f"k-{uuid.uuid4()}"
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json=body(world_a), headers={"Idempotency-Key": key}
        )
        stored = await rows(
            "select status_code, resource_ids, expires_at - created_at as ttl"
            " from intake.idempotency_keys where tenant_id = :t and key = :k",
            t=world_a.id,
            k=key,
        )
        assert stored[0]["status_code"] == 201
        assert stored[0]["resource_ids"] == [uuid.UUID(r.json()["id"])]
        assert stored[0]["ttl"] == timedelta(hours=24)

    async def test_failed_request_stores_no_key(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        key = f"k-{uuid.uuid4()}"
        client = api_client(token=world_a.key_text)
        bad = await client.post(
            "/v1/leads", json=body(world_a, phone="1"), headers={"Idempotency-Key": key}
        )
        assert bad.status_code == 422
        assert not await rows("select 1 from intake.idempotency_keys where key = :k", k=key)


class TestBatch:
    async def test_mixed_items_are_judged_one_by_one(
        self, world_a: World, world_b: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        repeated = fresh_phone()
        items = [
            body(world_a),
            body(world_a, phone="123"),
            body(world_a, phone=repeated),
            {"phone": fresh_phone()},
            body(world_a, phone=repeated),
            body(world_b),
            {"project_id": str(world_a.project_id), "phone": 5},
        ]
        r = await client.post("/v1/leads/batch", json={"items": items})
        assert r.status_code == 200, r.text
        result = r.json()
        statuses = [i["status"] for i in result["items"]]
        assert statuses == ["created", "error", "created", "error", "duplicate", "error", "error"]
        assert (result["created"], result["duplicates"], result["errors"]) == (2, 1, 4)
        assert result["items"][1]["errors"][0]["code"] == "invalid_phone"
        assert result["items"][3]["errors"][0]["field"] == "project_id"
        assert result["items"][5]["errors"][0]["code"] == "project_not_found"
        assert result["items"][4]["lead_id"] == result["items"][2]["lead_id"]
        got = await client.get(f"/v1/leads/{result['items'][0]['lead_id']}")
        assert got.status_code == 200

    async def test_more_than_1000_items_is_422(self, world_a: World, api_client: ApiClient) -> None:
        items = [body(world_a) for _ in range(1001)]
        r = await api_client(token=world_a.key_text).post("/v1/leads/batch", json={"items": items})
        assert r.status_code == 422


class TestReading:
    async def test_list_filters_and_paginates(self, world_a: World, api_client: ApiClient) -> None:
        project = await make_project(world_a.id)
        client = api_client(token=world_a.key_text)
        ids = []
        for i in range(5):
            r = await client.post(
                "/v1/leads",
                json={"project_id": str(project), "phone": fresh_phone(), "source": f"s{i % 2}"},
            )
            ids.append(r.json()["id"])
        page = (
            await client.get("/v1/leads", params={"project_id": str(project), "limit": 2})
        ).json()
        assert [i["id"] for i in page["items"]] == ids[::-1][:2]
        seen = [i["id"] for i in page["items"]]
        while page["next_cursor"]:
            page = (
                await client.get(
                    "/v1/leads",
                    params={"project_id": str(project), "limit": 2, "cursor": page["next_cursor"]},
                )
            ).json()
            seen += [i["id"] for i in page["items"]]
        assert seen == ids[::-1]
        s1 = await client.get("/v1/leads", params={"project_id": str(project), "source": "s1"})
        assert {i["id"] for i in s1.json()["items"]} == {ids[1], ids[3]}
        new = await client.get("/v1/leads", params={"project_id": str(project), "stage": "won"})
        assert new.json()["items"] == []
        future = await client.get(
            "/v1/leads",
            params={"project_id": str(project), "received_from": "2999-01-01T00:00:00Z"},
        )
        assert future.json()["items"] == []


class TestRules:
    async def test_suspended_tenant_gets_403_saying_why(self, api_client: ApiClient) -> None:
        world = await make_world(status="suspended")
        r = await api_client(token=world.key_text).post("/v1/leads", json=body(world))
        assert r.status_code == 403
        assert r.json()["type"] == "/problems/tenant-suspended"

    async def test_inactive_project_refuses_leads(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        project = await make_project(world_a.id, status="paused")
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json={"project_id": str(project), "phone": fresh_phone()}
        )
        assert r.status_code == 409
        assert r.json()["code"] == "project_not_active"

    async def test_older_project_update_is_ignored(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        project = await make_project(world_a.id, revision=3)
        await make_project(world_a.id, project_id=project, revision=2, status="paused")
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json={"project_id": str(project), "phone": fresh_phone()}
        )
        assert r.status_code == 201

    async def test_rate_limit_answers_429_with_retry_after(self, api_client: ApiClient) -> None:
        world = await make_world()
        await rows(
            "update onboarding.tenants set rate_per_second = 1, rate_burst = 2 where id = :id"
            " returning id",
            id=world.id,
        )
        forget_standing(world.id)
        client = api_client(token=world.key_text)
        answers = [await client.post("/v1/leads", json=body(world)) for _ in range(3)]
        assert [r.status_code for r in answers[:2]] == [201, 201]
        limited = answers[2]
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-limit"] == "2"
        assert limited.headers["ratelimit-remaining"] == "0"

    async def test_lead_received_goes_to_outbox_without_personal_data_in_webhook_form(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads", json=body(world_a, external_id="crm-out-1", name="Pyotr")
        )
        (row,) = await rows(
            "select * from intake.outbox where event_type = 'lead.received'"
            " and payload->>'lead_id' = :id",
            id=r.json()["id"],
        )
        assert row["tenant_id"] == world_a.id
        envelope = Envelope(
            id=row["id"],
            type=row["event_type"],
            version=row["version"],
            tenant_id=row["tenant_id"],
            occurred_at=row["occurred_at"],
            payload=row["payload"],
        )
        hook = webhook_payload(envelope)
        assert hook["payload"]["lead_id"] == r.json()["id"]
        assert hook["payload"]["external_id"] == "crm-out-1"
        assert hook["payload"]["stage"] == "new"
        flat = str(hook)
        assert r.json()["phone"] not in flat
        assert "Pyotr" not in flat
        assert row["payload"]["phone"] == r.json()["phone"]  # assignment needs it to call


class TestIsolation:
    async def test_other_tenants_lead_is_404_on_every_route(
        self, world_a: World, world_b: World, api_client: ApiClient
    ) -> None:
        theirs = (
            await api_client(token=world_b.key_text).post("/v1/leads", json=body(world_b))
        ).json()
        for token in (world_a.key_text, world_a.admin_token):
            client = api_client(token=token)
            lead = f"/v1/leads/{theirs['id']}"
            answers = [
                await client.get(lead),
                await client.post(f"{lead}/outcome", json={"outcome": "lost", "reason": "x"}),
                await client.delete(lead),
            ]
            assert [a.status_code for a in answers] == [404, 404, 404]
            assert {a.json()["code"] for a in answers} == {"lead_not_found"}
            listed = await client.get("/v1/leads", params={"project_id": str(world_b.project_id)})
            assert listed.json()["items"] == []
        still = await api_client(token=world_b.key_text).get(f"/v1/leads/{theirs['id']}")
        assert still.json()["phone"] == theirs["phone"]

    async def test_key_cannot_write_into_other_tenants_project(
        self, world_a: World, world_b: World, api_client: ApiClient
    ) -> None:
        r = await api_client(token=world_a.key_text).post("/v1/leads", json=body(world_b))
        assert r.status_code == 404
        assert r.json()["code"] == "project_not_found"
        assert not await rows(
            "select 1 from intake.leads where tenant_id = :a and project_id = :p",
            a=world_a.id,
            p=world_b.project_id,
        )

    async def test_staff_cannot_submit_but_may_read(
        self, world_a: World, staff_token: str, api_client: ApiClient
    ) -> None:
        mine = (
            await api_client(token=world_a.key_text).post("/v1/leads", json=body(world_a))
        ).json()
        staff = api_client(token=staff_token)
        assert (await staff.post("/v1/leads", json=body(world_a))).status_code == 403
        assert (await staff.get(f"/v1/leads/{mine['id']}")).status_code == 200
