"""Expected failures of the pricing service (projects, tenant mirror, planner).

Quote and rate-card errors live beside them in ``services/pricing/quotes/errors.py``;
they subclass :class:`PricingError` too.
"""

from __future__ import annotations

from shared.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed


class PricingError(AppError):
    """Base of every pricing failure."""


class ProjectNotFound(PricingError, NotFound):
    """The project does not exist, or the caller may not see it (same answer)."""

    code = "project_not_found"
    title = "Project not found"


class ProjectTransitionInvalid(PricingError, Conflict):
    """The project's status does not allow this change (e.g. pausing a draft)."""

    code = "project_invalid_transition"
    title = "Project status does not allow this"


class ProjectClosed(PricingError, Conflict):
    """A closed project is read-only."""

    code = "project_closed"
    title = "Project is closed"


class TenantClosed(PricingError, Conflict):
    """No new projects for a closed tenant."""

    code = "tenant_closed"
    title = "Tenant is closed"


class SettingsInvalid(PricingError, ValidationFailed):
    """Project settings break a rule; ``errors`` name each field path (``settings.retry...``)."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        ValidationFailed.__init__(self, errors, detail)


class TenantNotMirrored(PricingError):
    """A ``tenant.*`` event arrived before the tenant's ``tenant.created`` (the actor retries)."""

    status = 503
    code = "tenant_not_mirrored"
    title = "Tenant not known to pricing yet"
