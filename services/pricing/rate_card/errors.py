"""Rate card failures (the HTTP class first, so its status and code win in the MRO)."""

from __future__ import annotations

from services.pricing.errors import PricingError
from shared.errors import Conflict, NotFound, ValidationFailed


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
