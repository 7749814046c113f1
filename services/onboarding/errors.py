"""Expected failures of the onboarding service, each with its HTTP status and code.

Each subclasses the shared kind it is (``NotFound``, ``Conflict``, ...), so the
problem-details handler and clients see the right status with a specific ``code``.
"""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, Unauthorized

# --- tenants --------------------------------------------------------------------------


class TenantNotFound(NotFound):
    """Also the answer for another tenant's id: the same body as a missing one."""

    code = "tenant_not_found"
    title = "Tenant not found"


class InnTaken(Conflict):
    code = "inn_taken"
    title = "INN already registered"


class SlugTaken(Conflict):
    code = "slug_taken"
    title = "Slug already taken"


class IllegalTenantTransition(Conflict):
    code = "illegal_transition"
    title = "Illegal status transition"


# --- users ----------------------------------------------------------------------------


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "User not found"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"


class UserAlreadyInStatus(Conflict):
    code = "user_status_unchanged"
    title = "User already in that status"


# --- api keys -------------------------------------------------------------------------


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


# --- webhooks -------------------------------------------------------------------------


class WebhookEndpointNotFound(NotFound):
    """Also the answer for another tenant's endpoint: the same body as a missing one."""

    code = "webhook_endpoint_not_found"
    title = "Webhook endpoint not found"


# --- auth and roles -------------------------------------------------------------------


class InvalidCredentials(Unauthorized):
    """Wrong email and wrong password give exactly this, in similar time."""

    code = "invalid_credentials"
    title = "Invalid email or password"


class InvalidRefreshToken(Unauthorized):
    """Unknown, expired, revoked or already spent (the last revokes its family)."""

    code = "invalid_refresh_token"
    title = "Invalid refresh token"


class RoleNotAllowed(Forbidden):
    code = "role_not_allowed"
    title = "Your role cannot do this"
