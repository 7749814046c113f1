"""Every error is RFC 9457 problem details with a stable code and the request id."""

from __future__ import annotations

from shared.errors import FieldError, ValidationFailed
from tests.http.helpers import bearer, make_app
from tests.support.clients import ApiClient

PROBLEM = "application/problem+json"


def _order(**overrides):
    body = {"email": "someone@example.com", "items": [{"phone": "+79991234567"}]}
    body.update(overrides)
    return body


class TestValidation:
    async def test_missing_top_level_field_is_named(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.post("/v1/orders", json={"items": []}, headers=bearer())
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["type"] == "/problems/validation"
        assert body["code"] == "validation"
        assert body["title"] == "Invalid request"
        assert body["status"] == 422
        assert body["detail"] == "1 field is invalid"
        assert body["errors"] == [
            {
                "field": "email",
                "code": "required",
                "message": "Object missing required field `email`",
            }
        ]
        assert body["request_id"] == r.headers["x-request-id"]

    async def test_nested_field_is_named_by_json_path(self, api_client: ApiClient) -> None:
        items = [{"phone": "+79991234567"}, {"phone": "+79991234568"}, {"phone": 5}]
        async with api_client(make_app()) as client:
            r = await client.post("/v1/orders", json=_order(items=items), headers=bearer())
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert error["field"] == "items[2].phone"
        assert error["code"] == "invalid_type"

    async def test_missing_nested_field_is_named(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.post(
                "/v1/orders", json=_order(items=[{"quantity": 2}]), headers=bearer()
            )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "items[0].phone"
        assert r.json()["errors"][0]["code"] == "required"

    def test_service_raised_validation_reads_like_the_decoder_s(self) -> None:
        """API.md: "1 field is invalid" whether msgspec or a service found the fault."""
        one = ValidationFailed.one("inn", "invalid_inn", "bad check digit")
        two = ValidationFailed(
            [FieldError("inn", "invalid_inn", "x"), FieldError("currency", "invalid", "y")]
        )
        assert one.detail == "1 field is invalid"
        assert two.detail == "2 fields are invalid"

    async def test_malformed_json_is_400(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.post(
                "/v1/orders",
                content=b'{"email": "a@b.c", "items": [',
                headers={**bearer(), "content-type": "application/json"},
            )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["code"] == "malformed_json"
        assert r.json()["type"] == "/problems/malformed-json"


class TestLimits:
    async def test_body_over_the_limit_is_413(self, api_client: ApiClient) -> None:
        app = make_app(max_body_bytes=1_000)
        payload = _order(items=[{"phone": "+7999123456"} for _ in range(100)])
        async with api_client(app) as client:
            r = await client.post("/v1/orders", json=payload, headers=bearer())
        assert r.status_code == 413
        assert r.json()["code"] == "body_too_large"
        assert r.json()["request_id"]

    async def test_upload_route_raises_its_own_limit(self, api_client: ApiClient) -> None:
        app = make_app(max_body_bytes=1_000)
        async with api_client(app) as client:
            ok = await client.post(
                "/v1/uploads",
                content=b"x" * 5_000,
                headers={**bearer(), "content-type": "application/octet-stream"},
            )
            too_big = await client.post(
                "/v1/uploads",
                content=b"x" * 20_000,
                headers={**bearer(), "content-type": "application/octet-stream"},
            )
        assert ok.status_code == 201, ok.text
        assert ok.json() == {"size": 5_000}
        assert too_big.status_code == 413


class TestOtherErrors:
    async def test_unknown_route_is_404_problem(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/v1/nothing-here", headers=bearer())
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["code"] == "not_found"
        assert body["type"] == "/problems/not-found"
        assert body["request_id"] == r.headers["x-request-id"]

    async def test_wrong_method_is_405_problem(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.delete("/v1/orders", headers=bearer())
        assert r.status_code == 405
        assert r.json()["code"] == "method_not_allowed"

    async def test_unexpected_error_is_500_with_request_id_and_no_traceback(
        self, api_client: ApiClient
    ) -> None:
        async with api_client(make_app()) as client:
            r = await client.post(
                "/v1/orders/explode",
                json=_order(),
                headers={**bearer(), "X-Request-ID": "req-explode-1"},
            )
        assert r.status_code == 500
        body = r.json()
        assert body["code"] == "internal"
        assert body["request_id"] == "req-explode-1"
        assert r.headers["x-request-id"] == "req-explode-1"
        assert "Traceback" not in r.text
        assert "exploded" not in r.text
        assert "RuntimeError" not in r.text

    async def test_app_error_keeps_code_extra_and_headers(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/v1/busy", headers=bearer())
        assert r.status_code == 429
        assert r.headers["retry-after"] == "7"
        body = r.json()
        assert body["code"] == "teapot_busy"
        assert body["type"] == "/problems/teapot-busy"
        assert body["title"] == "The teapot is busy"
        assert body["detail"] == "come back later"
        assert body["retry_after"] == 7

    async def test_garbage_request_id_is_replaced(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        assert r.status_code == 200
        assert r.headers["x-request-id"] != "bad id\twith spaces"
        assert len(r.headers["x-request-id"]) == 32


class TestAuthProblems:
    async def test_missing_credentials_is_401_problem(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/v1/widgets/0190a0b0-0000-7000-8000-000000000001")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["code"] == "unauthorized"

    async def test_public_routes_need_no_credentials(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            for path in ("/health", "/metrics", "/schema/openapi.json", "/v1/public-ping"):
                r = await client.get(path)
                assert r.status_code == 200, (path, r.text)
