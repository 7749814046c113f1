"""The issue text and API.md held against the leads API as a new client reads them."""

from __future__ import annotations

from typing import Any

from kolokol.app import openapi_document
from shared.auth.standing import forget_standing
from tests.intake.conftest import World, fresh_phone, make_world, rows
from tests.support.clients import ApiClient
from tests.support.factories import make_api_key


def body(world: World, **extra: object) -> dict[str, object]:
    return {"project_id": str(world.project_id), "phone": fresh_phone(), **extra}


class TestAnswers:
    async def test_create_answer_names_its_created_time(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        r = await client.post("/v1/leads", json=body(world_a))
        assert r.status_code == 201
        lead = r.json()
        assert lead["created_at"] == lead["received_at"]
        got = (await client.get(r.headers["location"])).json()
        assert got["created_at"] == lead["created_at"]

    async def test_admitted_answers_carry_ratelimit_headers(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        created = await client.post("/v1/leads", json=body(world_a))
        listed = await client.get("/v1/leads", params={"limit": 1})
        imports = await client.get("/v1/imports")
        for answer in (created, listed, imports):
            assert answer.status_code < 300, answer.text
            assert int(answer.headers["ratelimit-limit"]) > 0
            assert int(answer.headers["ratelimit-remaining"]) >= 0
            assert int(answer.headers["ratelimit-reset"]) >= 0
            assert "retry-after" not in answer.headers

    async def test_a_key_that_writes_leads_reads_what_it_wrote(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        _, key = await make_api_key(world_a.tenant, scopes=["leads:write"])
        client = api_client(token=key)
        created = await client.post("/v1/leads", json=body(world_a))
        assert created.status_code == 201
        got = await client.get(created.headers["location"])
        assert got.status_code == 200, got.text
        assert got.json()["id"] == created.json()["id"]


class TestRules:
    async def test_import_routes_share_the_api_key_rate_limit(self, api_client: ApiClient) -> None:
        world = await make_world()
        await rows(
            "update onboarding.tenants set rate_per_second = 1, rate_burst = 1 where id = :id"
            " returning id",
            id=world.id,
        )
        forget_standing(world.id)
        client = api_client(token=world.key_text)
        first = await client.get("/v1/imports")
        second = await client.get("/v1/imports")
        assert first.status_code == 200
        assert second.status_code == 429
        assert second.json()["code"] == "rate_limited"
        assert int(second.headers["retry-after"]) >= 1

    async def test_batch_item_that_is_not_an_object_fails_alone(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        r = await api_client(token=world_a.key_text).post(
            "/v1/leads/batch", json={"items": [body(world_a), 5, "lead", body(world_a)]}
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert [i["status"] for i in result["items"]] == ["created", "error", "error", "created"]
        assert (result["created"], result["errors"]) == (2, 2)

    async def test_won_with_an_amount_alone_is_in_the_projects_currency(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = (await client.post("/v1/leads", json=body(world_a))).json()
        r = await client.post(
            f"/v1/leads/{lead['id']}/outcome", json={"outcome": "won", "amount": 1_500_000}
        )
        assert r.status_code == 200, r.text
        assert r.json()["stage"] == "won"
        assert (r.json()["deal_value"], r.json()["deal_currency"]) == (1_500_000, "RUB")

    async def test_outcome_with_a_field_of_the_other_outcome_is_422_naming_it(
        self, world_a: World, api_client: ApiClient
    ) -> None:
        client = api_client(token=world_a.key_text)
        lead = (await client.post("/v1/leads", json=body(world_a))).json()
        url = f"/v1/leads/{lead['id']}/outcome"
        won = await client.post(
            url, json={"outcome": "won", "amount": 100, "currency": "RUB", "reason": "price"}
        )
        assert won.status_code == 422
        assert [(e["field"], e["code"]) for e in won.json()["errors"]] == [
            ("reason", "not_allowed")
        ]
        lost = await client.post(url, json={"outcome": "lost", "reason": "price", "amount": 100})
        assert lost.status_code == 422
        assert [e["field"] for e in lost.json()["errors"]] == ["amount"]
        assert (await client.get(f"/v1/leads/{lead['id']}")).json()["stage"] == "new"


def _operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation = doc["paths"][path][method]
    assert isinstance(operation, dict)
    return operation


class TestOpenAPI:
    def test_every_route_documents_its_errors_and_headers(self) -> None:
        doc = openapi_document()
        routes = {
            ("/v1/leads", "post"): {"201", "200", "401", "403", "404", "409", "413", "422", "429"},
            ("/v1/leads/batch", "post"): {"200", "401", "403", "409", "413", "422", "429"},
            ("/v1/leads", "get"): {"200", "401", "403", "422", "429"},
            ("/v1/leads/{lead_id}", "get"): {"200", "401", "403", "404", "429"},
            ("/v1/leads/{lead_id}", "delete"): {"204", "401", "403", "404", "429"},
            ("/v1/leads/{lead_id}/outcome", "post"): {"200", "404", "409", "422", "429"},
            ("/v1/imports", "post"): {"202", "401", "403", "413", "422", "429"},
            ("/v1/imports", "get"): {"200", "401", "403", "429"},
            ("/v1/imports/{import_id}", "get"): {"200", "404", "429"},
            ("/v1/imports/{import_id}/errors", "get"): {"200", "404", "429"},
        }
        for (path, method), statuses in routes.items():
            responses = set(_operation(doc, path, method)["responses"])
            assert statuses <= responses, (path, method, statuses - responses)
        for path in ("/v1/leads", "/v1/leads/batch"):
            params = {p["name"] for p in _operation(doc, path, "post").get("parameters", [])}
            assert "Idempotency-Key" in params, path
        created = _operation(doc, "/v1/leads", "post")["responses"]["201"]
        assert {"Location", "Idempotent-Replayed", "RateLimit-Remaining"} <= set(created["headers"])
