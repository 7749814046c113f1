"""The combined app serves every service under one OpenAPI document."""

from __future__ import annotations

from kolokol.app import create_combined_app, openapi_document, service_route_handlers
from shared.services import SERVICES
from tests.support.clients import ApiClient


def test_every_service_is_mounted() -> None:
    handlers = service_route_handlers()
    assert list(handlers) == list(SERVICES)
    assert all(handlers.values())


def test_one_document_for_all() -> None:
    doc = openapi_document()
    assert doc["info"]["title"] == "Kolokol API"
    assert doc["openapi"].startswith("3.1")
    assert {"/health", "/ready", "/metrics"} <= set(doc["paths"])


async def test_combined_app_answers(api_client: ApiClient) -> None:
    async with api_client(create_combined_app()) as client:
        r = await client.get("/health")
    assert r.status_code == 200


def test_every_route_documents_its_errors() -> None:
    """Each operation lists problem answers; each that takes a body also its 413."""
    doc = openapi_document()
    missing: list[str] = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = set(operation["responses"])
            if method in {"post", "put", "patch"} and "413" not in codes:
                missing.append(f"{method.upper()} {path}: 413")
            if path.startswith("/v1/") and not any(c.startswith("4") for c in codes):
                missing.append(f"{method.upper()} {path}: any 4xx")
    assert missing == []
