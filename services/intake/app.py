"""The intake service app: leads and imports."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from services.intake.imports.controllers import IMPORT_ROUTE_HANDLERS
from services.intake.leads.controllers import LEAD_ROUTE_HANDLERS
from shared.config import Settings
from shared.http.app import create_service_app

ROUTE_HANDLERS: list[ControllerRouterHandler] = [*LEAD_ROUTE_HANDLERS, *IMPORT_ROUTE_HANDLERS]


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app("intake", ROUTE_HANDLERS, settings=settings)
