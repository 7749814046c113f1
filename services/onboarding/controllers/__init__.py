"""The onboarding controllers, one module per resource."""

from services.onboarding.controllers.api_keys import ApiKeyController
from services.onboarding.controllers.auth import AuthController
from services.onboarding.controllers.tenants import TenantController
from services.onboarding.controllers.users import UserController

__all__ = ["ApiKeyController", "AuthController", "TenantController", "UserController"]
