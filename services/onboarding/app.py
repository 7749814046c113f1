"""The onboarding app: auth, tenants, users, API keys, webhooks, and the audit log reader."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from services.onboarding.api_keys.controllers import ApiKeyController
from services.onboarding.auth.controllers import AuthController
from services.onboarding.tenants.controllers import TenantController
from services.onboarding.users.controllers import UserController
from services.onboarding.webhooks import WEBHOOK_ROUTE_HANDLERS
from shared.audit.routes import AuditController
from shared.config import Settings
from shared.http.app import create_service_app

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    AuthController,
    TenantController,
    ApiKeyController,
    UserController,
    *WEBHOOK_ROUTE_HANDLERS,
    AuditController,
]


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app("onboarding", ROUTE_HANDLERS, settings=settings)
