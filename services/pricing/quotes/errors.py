"""Quote failures (the HTTP class first, so its status and code win in the MRO)."""

from __future__ import annotations

from services.pricing.errors import PricingError
from shared.errors import Conflict, NotFound, ValidationFailed


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
