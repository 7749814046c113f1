"""The combined app serves every service that exists under one OpenAPI document."""

from __future__ import annotations

import importlib

from kolokol.app import SERVICES, create_combined_app, openapi_document, service_route_handlers
from tests.http.helpers import client_for


def _present() -> set[str]:
    present = set()
    for name in SERVICES:
        try:
            importlib.import_module(f"services.{name}.app")
        except ModuleNotFoundError as exc:
            if exc.name != f"services.{name}.app":
                raise
        else:
            present.add(name)
    return present


def test_every_present_service_is_mounted() -> None:
    assert set(service_route_handlers()) == _present()


def test_one_document_for_all() -> None:
    doc = openapi_document()
    assert doc["info"]["title"] == "Kolokol API"
    assert doc["openapi"].startswith("3.1")
    assert {"/health", "/ready", "/metrics"} <= set(doc["paths"])


async def test_combined_app_answers() -> None:
    async with client_for(create_combined_app()) as client:
        r = await client.get("/health")
    assert r.status_code == 200
