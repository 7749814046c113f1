"""The billing service app: invoices, billing runs, reports, and the Stripe routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from services.billing.invoices.controllers import INVOICE_ROUTE_HANDLERS
from services.billing.reports.controllers import REPORT_ROUTE_HANDLERS
from services.billing.runs.controllers import RUN_ROUTE_HANDLERS
from services.billing.stripe.controllers import STRIPE_ROUTE_HANDLERS
from shared.config import Settings
from shared.http.app import create_service_app

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    *INVOICE_ROUTE_HANDLERS,
    *RUN_ROUTE_HANDLERS,
    *REPORT_ROUTE_HANDLERS,
    *STRIPE_ROUTE_HANDLERS,
]


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app("billing", ROUTE_HANDLERS, settings=settings)
