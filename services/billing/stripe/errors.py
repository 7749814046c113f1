"""Billing's Stripe errors: the gateway's exception tree and the HTTP problems.

The gateway never lets a ``stripe`` exception escape; callers see this tree
(after httpx's ``_exceptions.py``)::

    GatewayError                  anything Stripe-related went wrong
     ├── CardDeclined             the card (or bank) said no: a payment failure, retry later
     ├── GatewayUnavailable       network, timeout, rate limit, Stripe 5xx: safe to resend
     │                            with the same idempotency key
     └── GatewayRejected          Stripe refused the request (bad parameters, auth,
                                  idempotency key reused with other parameters): a bug or
                                  a configuration problem, resending will not help
"""

from __future__ import annotations

from shared.errors import AppError, NotFound


class GatewayError(Exception):
    """Base of every failure talking to Stripe."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        payment_intent_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.payment_intent_id = payment_intent_id

    def describe(self) -> str:
        """A short, non-personal text for attempt records and logs."""
        return f"{self.code or type(self).__name__}: {self.message}"[:500]


class CardDeclined(GatewayError):
    """The payment method was declined (``card_error``)."""


class GatewayUnavailable(GatewayError):
    """Stripe could not be reached or answered with a transient failure."""


class GatewayRejected(GatewayError):
    """Stripe refused the request itself (invalid, unauthorised, conflicting)."""


class GatewayNotConfigured(GatewayError):
    """``KOLOKOL_STRIPE_API_KEY`` is not set: payments are off in this process."""


# --- HTTP problems -------------------------------------------------------------------


class StripeSignatureInvalid(AppError):
    status = 400
    code = "stripe_signature_invalid"
    title = "Invalid Stripe signature"


class BillingCustomerNotFound(NotFound):
    code = "billing_customer_not_found"
    title = "Billing customer not found"


class PaymentMethodDeclined(AppError):
    status = 402
    code = "payment_method_declined"
    title = "Payment method declined"


class PaymentProviderUnavailable(AppError):
    status = 503
    code = "payment_provider_unavailable"
    title = "Payment provider unavailable"


class PaymentMethodRejected(AppError):
    status = 422
    code = "payment_method_rejected"
    title = "Payment method rejected"
