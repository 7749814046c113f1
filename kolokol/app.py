"""All five services in one process, under one OpenAPI document (``kolokol dev``).

Each service's ``services.<name>.app`` exports ``ROUTE_HANDLERS``; their public
prefixes are disjoint, so they can share one router. Every service of
:data:`shared.services.SERVICES` is imported; one that fails to import stops the
start, loudly.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from shared.config import Settings, get_settings
from shared.http.app import create_service_app
from shared.services import SERVICES


def service_route_handlers() -> dict[str, list[ControllerRouterHandler]]:
    """``{service: ROUTE_HANDLERS}`` for every service."""
    return {
        name: list(importlib.import_module(f"services.{name}.app").ROUTE_HANDLERS)
        for name in SERVICES
    }


def create_combined_app(settings: Settings | None = None) -> Litestar:
    handlers = [h for per_service in service_route_handlers().values() for h in per_service]
    return create_service_app("API", handlers, settings=settings)


OFFLINE_REDIS_URL = "redis://127.0.0.1:6379/0"
"""Stands in for an unset ``REDIS_URL`` while the document is built: importing the
services declares their dramatiq actors on a broker object, but nothing connects."""


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The merged OpenAPI 3.1 document, as ``kolokol openapi`` prints it (needs neither
    PostgreSQL nor Redis, so it runs on a machine with nothing set up)."""
    settings = settings or get_settings()
    if not settings.redis_url:
        from shared.messaging.broker import setup_broker

        setup_broker(replace(settings, redis_url=OFFLINE_REDIS_URL))
    app = create_combined_app(settings)
    return app.openapi_schema.to_schema()
