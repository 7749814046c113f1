"""The pricing service app: projects, the planner, the rate card and quotes."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from services.pricing.planner.controllers import PLANNER_ROUTE_HANDLERS
from services.pricing.projects.controllers import PROJECT_ROUTE_HANDLERS
from services.pricing.quotes.controllers import QUOTE_ROUTE_HANDLERS
from services.pricing.rate_card.controllers import RATE_CARD_ROUTE_HANDLERS
from shared.config import Settings
from shared.http.app import create_service_app

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    *PROJECT_ROUTE_HANDLERS,
    *PLANNER_ROUTE_HANDLERS,
    *RATE_CARD_ROUTE_HANDLERS,
    *QUOTE_ROUTE_HANDLERS,
]


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app("pricing", ROUTE_HANDLERS, settings=settings)
