"""Expected failures of the billing service, each with its HTTP status and code."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, ValidationFailed


class BillingError(Conflict):
    """Base of billing's conflicts (409)."""

    code = "billing_conflict"
    title = "Billing conflict"


class CustomerNotMirrored(NotFound):
    """Billing has not yet heard of the tenant (``tenant.created`` not applied yet).

    Raised by event handlers so that the broker retries the event later.
    """

    code = "customer_not_found"
    title = "Billing customer not found"


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


class InvalidPeriod(ValidationFailed):
    """A ``YYYY-MM`` period that does not parse (a 422 naming the field)."""
