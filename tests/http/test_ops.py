"""/health, /ready, /metrics and the OpenAPI document every service serves."""

from __future__ import annotations

import re
import uuid

from tests.http.helpers import bearer, make_app
from tests.support.clients import ApiClient


class TestHealthAndReady:
    async def test_health_is_up(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/health")
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}

    async def test_ready_with_real_postgres_and_redis(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/ready")
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

    async def test_ready_is_503_when_redis_is_unreachable(self, api_client: ApiClient) -> None:
        async with api_client(make_app(redis_url="redis://127.0.0.1:1/0")) as client:
            r = await client.get("/ready")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "not_ready"
        assert body["checks"] == {"database": "ok", "redis": "unavailable"}
        assert body["request_id"] == r.headers["x-request-id"]


class TestMetrics:
    async def test_requests_are_counted_by_route_template(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            for _ in range(3):
                r = await client.get(f"/v1/widgets/{uuid.uuid4()}", headers=bearer())
                assert r.status_code == 200
            await client.get("/v1/no-such-route", headers=bearer())
            r = await client.get("/metrics")
        assert r.status_code == 200
        text = r.text
        line = re.search(
            r'^kolokol_http_requests_total\{method="GET",route="/v1/widgets/\{widget_id\}",'
            r'service="test",status="200"\} (\d+)\.0$',
            text,
            re.MULTILINE,
        )
        assert line is not None, text
        assert int(line.group(1)) >= 3
        assert 'route="unmatched"' in text
        assert "/v1/widgets/0" not in text  # never the raw path
        assert "kolokol_http_request_duration_seconds_bucket" in text
        assert "kolokol_queue_depth" in text
        assert "kolokol_outbox_lag_seconds" in text


class TestOpenAPI:
    async def test_document_has_title_version_and_problem_responses(
        self, api_client: ApiClient
    ) -> None:
        async with api_client(make_app()) as client:
            r = await client.get("/schema/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.1")
        assert doc["info"]["title"] == "Kolokol test"
        operation = doc["paths"]["/v1/orders"]["post"]
        for status in ("401", "403", "404", "422"):
            content = operation["responses"][status]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
        problem = doc["components"]["schemas"]["Problem"]
        assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])
        assert "BearerAuth" in doc["components"]["securitySchemes"]
        assert {"/health", "/ready", "/metrics"} <= set(doc["paths"])


def test_tune_gc_freezes_start_up_and_raises_the_young_threshold() -> None:
    import gc

    from shared.http.app import GC_GEN0_THRESHOLD, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
