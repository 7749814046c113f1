"""Bad input never answers 500: each kind gets a 4xx problem naming the field.

The family test drives every operation of the merged document with a NUL in each
string field of its body and in each string parameter, as a tenant's key and as staff.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kolokol.app import create_combined_app, openapi_document
from shared.context import Role
from tests.support.clients import ApiClient
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user

NUL_TEXT = "x\x00y"
DOC = openapi_document()
SCHEMAS = DOC["components"]["schemas"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("oneOf", "anyOf"):
        branches = [b for b in schema.get(key, []) if _resolve(b).get("type") != "null"]
        if branches:
            return _resolve(branches[0])
    return schema


def sample(schema: dict[str, Any]) -> Any:
    """A plausible value of ``schema`` (valid where it is easy to be)."""
    schema = _resolve(schema)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind == "object":
        return {name: sample(prop) for name, prop in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items") or {})]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    return {
        "uuid": str(uuid.uuid4()),
        "email": "someone@example.test",
        "date-time": "2027-01-01T00:00:00Z",
        "date": "2027-01-01",
    }.get(fmt, "text")


def string_paths(
    value: Any, schema: dict[str, Any], path: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """Paths of the free-text strings in ``value`` (not enums, ids or dates)."""
    schema = _resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, item in value.items():
            yield from string_paths(item, props.get(key, {}), (*path, key))
    elif isinstance(value, list) and value:
        yield from string_paths(value[0], schema.get("items") or {}, (*path, 0))
    elif isinstance(value, str) and "enum" not in schema and "format" not in schema:
        yield path


def with_nul(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return NUL_TEXT
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = with_nul(value[path[0]], path[1:])
    return copy


def requests_with_a_nul() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in DOC["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            url = path
            for p in params:
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(sample(p.get("schema", {}))))
            for p in params:
                if p["in"] == "query" and _resolve(p.get("schema", {})).get("type") != "array":
                    yield method, url, {"params": {p["name"]: NUL_TEXT}}
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                body = sample(schema)
                for where in string_paths(body, schema):
                    yield method, url, {"json": with_nul(body, where)}


CASES = list(requests_with_a_nul())


@pytest.fixture(scope="module")
async def callers() -> dict[str, str]:
    tenant = await make_tenant()
    _, key = await make_api_key(tenant)
    admin = await make_user(Role.ADMIN)
    return {"tenant_key": key, "staff": jwt_for(admin)}


async def test_a_nul_anywhere_never_answers_5xx(
    api_client: ApiClient, callers: dict[str, str]
) -> None:
    assert len(CASES) > 50
    app = create_combined_app()
    failures: list[str] = []
    for token in callers.values():
        client = api_client(app, token=token)
        for method, url, kwargs in CASES:
            r = await client.request(method.upper(), url, **kwargs)
            if r.status_code >= 500:
                failures.append(f"{method.upper()} {url} {kwargs}: {r.status_code}")
    assert failures == []


@pytest.fixture
async def key_client(api_client: ApiClient, callers: dict[str, str]) -> httpx.AsyncClient:
    return api_client(create_combined_app(), token=callers["tenant_key"])


LEAD = {"project_id": str(uuid.uuid4()), "phone": "+79161234567"}


class TestProblems:
    async def test_a_nul_in_a_json_string_names_the_field(
        self, key_client: httpx.AsyncClient
    ) -> None:
        r = await key_client.post("/v1/leads", json={**LEAD, "name": "Iv\x00an"})
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {
                "field": "name",
                "code": "nul_character",
                "message": "must not contain a NUL character",
            }
        ]

    async def test_a_nul_in_a_custom_field_key_names_it(
        self, key_client: httpx.AsyncClient
    ) -> None:
        r = await key_client.post("/v1/leads", json={**LEAD, "fields": {"a": {"b\x00": 1}}})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "fields.a.b\\u0000"

    async def test_a_nul_in_a_query_parameter_names_it(self, key_client: httpx.AsyncClient) -> None:
        r = await key_client.get("/v1/rate-card", params={"currency": "R\x00B"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "currency"

    async def test_json_sent_as_text_plain_is_415(self, key_client: httpx.AsyncClient) -> None:
        r = await key_client.post(
            "/v1/leads",
            content=httpx.Request("POST", "/", json=LEAD).content,
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 415
        assert r.json()["code"] == "unsupported_media_type"

    async def test_a_string_where_an_integer_is_required_is_422(
        self, key_client: httpx.AsyncClient
    ) -> None:
        r = await key_client.post(
            f"/v1/leads/{uuid.uuid4()}/outcome",
            json={"outcome": "won", "amount": "100", "currency": "RUB"},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "amount"
        assert r.json()["errors"][0]["code"] == "invalid_type"

    async def test_an_amount_beyond_64_bits_is_422(self, key_client: httpx.AsyncClient) -> None:
        r = await key_client.post(
            f"/v1/leads/{uuid.uuid4()}/outcome",
            json={"outcome": "won", "amount": 2**70, "currency": "RUB"},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "amount"

    @pytest.mark.parametrize("where", ["body", "custom_field"])
    async def test_json_nested_100_000_deep_is_4xx(
        self, key_client: httpx.AsyncClient, where: str
    ) -> None:
        deep = b"[" * 100_000 + b"]" * 100_000
        body = (
            deep
            if where == "body"
            else b'{"project_id": "%s", "phone": "+79161234567", "fields": {"a": %s}}'
            % (LEAD["project_id"].encode(), deep)
        )
        r = await key_client.post(
            "/v1/leads", content=body, headers={"Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500
        assert r.headers["content-type"].startswith("application/problem+json")
