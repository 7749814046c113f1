"""All five services in one process, under one OpenAPI document (``kolokol dev``).

Each service's ``services.<name>.app`` exports ``ROUTE_HANDLERS``; their public
prefixes are disjoint, so they can share one router. A service not written yet is
skipped (only when its own ``app`` module is missing: a broken import still fails).
"""

from __future__ import annotations

import importlib
from typing import Any

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from shared.config import Settings
from shared.http.app import create_service_app

SERVICES = ("onboarding", "pricing", "intake", "assignment", "billing")


def service_route_handlers() -> dict[str, list[ControllerRouterHandler]]:
    """``{service: ROUTE_HANDLERS}`` for every service whose ``app`` module exists."""
    found: dict[str, list[ControllerRouterHandler]] = {}
    for name in SERVICES:
        module_name = f"services.{name}.app"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        found[name] = list(module.ROUTE_HANDLERS)
    return found


def create_combined_app(settings: Settings | None = None) -> Litestar:
    handlers = [h for per_service in service_route_handlers().values() for h in per_service]
    return create_service_app("API", handlers, settings=settings)


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The merged OpenAPI 3.1 document, as ``kolokol openapi`` prints it."""
    app = create_combined_app(settings)
    return app.openapi_schema.to_schema()
