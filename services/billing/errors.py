"""Expected failures of the billing service, grouped by the concept that raises them.

Each HTTP problem has its status and code. The Stripe section also holds the
gateway's own exception tree, which never reaches a client as such: payments turn it
into one of the problems below it.
"""

from __future__ import annotations

from shared.errors import AppError, Conflict, NotFound, ValidationFailed
from shared.messaging.retry import RetryLater


class BillingError(Conflict):
    """Base of billing's conflicts (409)."""

    code = "billing_conflict"
    title = "Billing conflict"


# --- customers (billing's mirror of tenants) ------------------------------------------


class CustomerNotMirrored(NotFound, RetryLater):
    """Billing has not yet heard of the tenant (``tenant.created`` not applied yet).

    Raised by event handlers so that the broker retries the event later, quietly.
    """

    code = "customer_not_found"
    title = "Billing customer not found"


# --- invoices and credit notes --------------------------------------------------------


class InvoiceNotFound(NotFound):
    """Also the answer for another tenant's invoice: the same body as a missing one."""

    code = "invoice_not_found"
    title = "Invoice not found"


class CreditNoteNotFound(NotFound):
    code = "credit_note_not_found"
    title = "Credit note not found"


class IllegalInvoiceTransition(BillingError):
    """The invoice's state does not allow the change (names ``from`` and ``to``)."""

    code = "illegal_transition"
    title = "Illegal invoice state change"


class InvoiceNotPayable(BillingError):
    """A payment reported for a void invoice: nothing changes; refund it at the gateway."""

    code = "invoice_not_payable"
    title = "Invoice cannot be paid"


class CreditExceedsInvoice(BillingError):
    code = "credit_exceeds_invoice"
    title = "Credit exceeds what the invoice still owes"


# --- runs and reports: billing periods ------------------------------------------------


class InvalidPeriod(ValidationFailed):
    """A ``YYYY-MM`` period that does not parse (a 422 naming the field)."""


class PeriodNotEnded(BillingError):
    """A run for a month that has not ended: it would close the month and bill its whole
    fee early. Only a closing tenant's final run may close its current month."""

    code = "period_not_ended"
    title = "Billing period has not ended"


# --- stripe: the gateway's exception tree ---------------------------------------------
# The gateway never lets a ``stripe`` exception escape; callers see this tree
# (after httpx's ``_exceptions.py``):
#
#     GatewayError                  anything Stripe-related went wrong
#      ├── CardDeclined             the card (or bank) said no: a payment failure, retry later
#      ├── GatewayUnavailable       network, timeout, rate limit, Stripe 5xx: safe to resend
#      │                            with the same idempotency key
#      └── GatewayRejected          Stripe refused the request (bad parameters, auth,
#                                   idempotency key reused with other parameters): a bug or
#                                   a configuration problem, resending will not help


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


# --- stripe: the HTTP problems of payments and webhooks -------------------------------


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
