"""Expected failures of the pricing service, grouped by the concept that raises them.

Every one subclasses :class:`PricingError`. Quote and rate-card errors name the HTTP
class first, so its status and code win in the MRO.
"""

from __future__ import annotations

from shared.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from shared.messaging.retry import RetryLater


class PricingError(AppError):
    """Base of every pricing failure."""


# --- projects -------------------------------------------------------------------------


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


# --- tenants (pricing's mirror) -------------------------------------------------------


class TenantNotMirrored(PricingError, RetryLater):
    """A ``tenant.*`` event arrived before the tenant's ``tenant.created`` (the actor
    retries, quietly)."""

    status = 503
    code = "tenant_not_mirrored"
    title = "Tenant not known to pricing yet"


# --- quotes ---------------------------------------------------------------------------


class QuoteNotFound(NotFound, PricingError):
    """Also the answer for another tenant's quote."""

    status = 404
    code = "not_found"
    title = "Not found"


class QuoteVersionNotFound(NotFound, PricingError):
    status = 404
    code = "quote_version_not_found"
    title = "Quote version not found"


class InvalidQuoteLines(ValidationFailed, PricingError):
    status = 422
    code = "validation"
    title = "Invalid request"


class QuoteExpired(Conflict, PricingError):
    status = 409
    code = "quote_expired"
    title = "The quote has expired"


class QuoteRejected(Conflict, PricingError):
    status = 409
    code = "quote_rejected"
    title = "The quote was rejected"


class QuoteSuperseded(Conflict, PricingError):
    """A newer version exists, or another quote of the project was accepted."""

    status = 409
    code = "quote_superseded"
    title = "The quote was superseded"


class QuoteAlreadyAccepted(Conflict, PricingError):
    status = 409
    code = "quote_already_accepted"
    title = "The quote was already accepted"


class QuoteNotSent(Conflict, PricingError):
    status = 409
    code = "quote_not_sent"
    title = "The quote has not been sent"


class QuoteNotEditable(Conflict, PricingError):
    status = 409
    code = "quote_not_editable"
    title = "The quote can no longer be changed"


# --- rate card ------------------------------------------------------------------------


class RateCardItemNotFound(NotFound, PricingError):
    status = 404
    code = "rate_card_item_not_found"
    title = "Rate card item not found"


class RateCardCodeTaken(Conflict, PricingError):
    status = 409
    code = "rate_card_code_taken"
    title = "Rate card code already exists in this currency"


class RateCardBackdated(ValidationFailed, PricingError):
    """A new version may not take effect before the newest one."""

    status = 422
    code = "validation"
    title = "Invalid request"
