"""The onboarding rules, one service object per concept.

``tenants`` (lifecycle), ``users`` (people, passwords, login) and ``api_keys``.
Every method takes ``(session, ctx, ...)``, flushes and never commits.
"""

from services.onboarding.service.api_keys import ApiKeyService, api_keys
from services.onboarding.service.tenants import TenantService, tenants
from services.onboarding.service.users import UserService, users

__all__ = ["ApiKeyService", "TenantService", "UserService", "api_keys", "tenants", "users"]
