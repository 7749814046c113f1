"""Charging issued invoices on the tenant's saved payment method, and recording results.

One charge is one *attempt* (``billing.payment_attempts``), claimed in its own
committed transaction BEFORE Stripe is called, so two workers never charge the same
attempt and a crash leaves a ``pending`` row that is later resent with the same
idempotency key (``inv-<invoice id>-<attempt>``): Stripe answers with the same
PaymentIntent instead of charging again. No database transaction is held open
while Stripe is called.

The result is recorded by :func:`record_success` / :func:`record_failure`, used both
right after the call and when Stripe's webhook arrives (twice, late, or in another
order); they decide from facts, never from arrival order:

- a succeeded attempt wins: its invoice is paid, a failure reported later for it
  (or for an earlier attempt) changes nothing;
- a failure counts against the invoice only if it is the invoice's latest attempt
  and names the PaymentIntent recorded for that attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import (
    BillingCustomerNotFound,
    CardDeclined,
    GatewayError,
    GatewayRejected,
    PaymentMethodDeclined,
    PaymentMethodRejected,
    PaymentProviderUnavailable,
)
from services.billing.invoices.models import UNPAID, InvoiceStatus
from services.billing.invoices.service import invoices
from services.billing.mirrors.repository import get_customer, set_stripe_customer_id
from services.billing.stripe import dunning, gateway, repository
from services.billing.stripe.models import AttemptStatus, PaymentAttempt, PaymentMethod
from services.billing.stripe.settings import get_stripe_settings
from shared.audit.log import record
from shared.context import Ctx
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope

log = structlog.get_logger(__name__)

T = TypeVar("T")

RESEND_PENDING_AFTER = timedelta(minutes=10)
"""A ``pending`` attempt older than this is presumed lost (a crash, a timeout) and resent."""
CHARGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """What one attempt charges (fixed when the attempt is claimed)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    amount_due: int
    currency: str


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    invoice_id: uuid.UUID
    status: str
    """``succeeded``, ``failed``, ``pending`` (left for a resend or the webhook), ``skipped``."""
    attempt: int | None = None
    payment_intent_id: str | None = None
    detail: str | None = None


# --- customers and payment methods ------------------------------------------------------


async def ensure_stripe_customer(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    """The tenant's Stripe customer id, created on first use (once: ``cus-<tenant id>``)."""
    customer = await get_customer(session, tenant_id)
    if customer is None:
        raise BillingCustomerNotFound(f"tenant {tenant_id} is not a billing customer yet")
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    customer_id = await _gateway_call(gateway.ensure_customer(customer))
    await set_stripe_customer_id(session, tenant_id, customer_id)
    return customer_id


async def attach_payment_method(
    session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, payment_method_id: str
) -> PaymentMethod:
    """Attach a Stripe payment method to the tenant's customer and make it the default."""
    customer_id = await ensure_stripe_customer(session, tenant_id)
    attached = await _gateway_call(gateway.attach_payment_method(customer_id, payment_method_id))
    method = await repository.save_default_method(
        session,
        tenant_id=tenant_id,
        stripe_customer_id=customer_id,
        stripe_payment_method_id=attached.id,
        brand=attached.brand,
        last4=attached.last4,
    )
    await record(
        session,
        ctx,
        action="billing.payment_method_attached",
        entity="payment_method",
        entity_id=method.id,
        tenant_id=tenant_id,
        before=None,
        after={"brand": attached.brand, "last4": attached.last4, "default": True},
    )
    return method


async def _gateway_call(call: Awaitable[T]) -> T:
    """Await a gateway call from a request: Stripe's answer becomes a problem detail."""
    try:
        return await call
    except CardDeclined as exc:
        raise PaymentMethodDeclined(exc.message, extra={"decline_code": exc.code}) from exc
    except GatewayRejected as exc:
        raise PaymentMethodRejected(exc.message, extra={"stripe_code": exc.code}) from exc
    except GatewayError as exc:
        raise PaymentProviderUnavailable("the payment provider is unavailable") from exc


# --- charging --------------------------------------------------------------------------


async def charge_due(*, now: datetime | None = None, limit: int = CHARGE_BATCH) -> dict[str, int]:
    """Charge every invoice due a charge now (first charge or a dunning retry)."""
    if not get_stripe_settings().enabled:
        return {"disabled": 1}
    now = now or utcnow()
    async with session_scope(STAFF) as session:
        due = await repository.chargeable_invoices(session, now=now, limit=limit)
    counts: dict[str, int] = {}
    for tenant_id, invoice_id in due:
        outcome = await charge_invoice(tenant_id, invoice_id, now=now)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


async def charge_outstanding(
    tenant_id: uuid.UUID, *, now: datetime | None = None
) -> list[ChargeOutcome]:
    """Charge every unpaid invoice of one tenant now, whatever the retry schedule says
    (after the tenant saved a new payment method; overdue invoices included)."""
    if not get_stripe_settings().enabled:
        return []
    now = now or utcnow()
    async with session_scope(STAFF) as session:
        ids = await repository.unpaid_invoices_of(session, tenant_id)
    return [await charge_invoice(tenant_id, invoice_id, now=now) for invoice_id in ids]


async def charge_invoice(
    tenant_id: uuid.UUID, invoice_id: uuid.UUID, *, now: datetime | None = None
) -> ChargeOutcome:
    """Claim the next attempt, charge it, record the result (three short steps)."""
    now = now or utcnow()
    claimed = await _claim(tenant_id, invoice_id, now=now)
    if isinstance(claimed, ChargeOutcome):
        return claimed
    attempt, request, customer_id, payment_method_id = claimed
    try:
        result = await gateway.charge(
            request, attempt, customer_id=customer_id, payment_method_id=payment_method_id
        )
    except GatewayError as exc:
        return await _not_charged(tenant_id, invoice_id, attempt, request, exc, now=now)
    status = await _record_result(tenant_id, invoice_id, attempt, request, result, now=now)
    log.info("billing.charged", invoice_id=str(invoice_id), attempt=attempt, status=status)
    return ChargeOutcome(invoice_id, status, attempt, result.payment_intent_id)


async def _not_charged(
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    request: ChargeRequest,
    exc: GatewayError,
    *,
    now: datetime,
) -> ChargeOutcome:
    """Stripe refused (declined, rejected): the attempt failed. Stripe unavailable or not
    configured: the attempt stays pending and is resent later with the same key."""
    if isinstance(exc, CardDeclined | GatewayRejected):
        async with session_scope(STAFF) as session:
            await record_failure(
                session,
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                attempt=attempt,
                payment_intent_id=exc.payment_intent_id,
                error=exc.describe(),
                amount=request.amount_due,
                currency=request.currency,
                at=now,
            )
        log.info(
            "billing.charge_failed", invoice_id=str(invoice_id), attempt=attempt, code=exc.code
        )
        return ChargeOutcome(invoice_id, "failed", attempt, exc.payment_intent_id, exc.describe())
    async with session_scope(STAFF) as session:
        await repository.note_attempt_error(session, tenant_id, invoice_id, attempt, exc.describe())
    log.warning("billing.charge_unavailable", invoice_id=str(invoice_id), attempt=attempt)
    return ChargeOutcome(invoice_id, "pending", attempt, None, exc.describe())


async def _record_result(
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    request: ChargeRequest,
    result: gateway.PaymentResult,
    *,
    now: datetime,
) -> str:
    """Record what Stripe answered; the attempt's status (``succeeded``, ``failed`` or
    ``pending``)."""
    async with session_scope(STAFF) as session:
        if result.succeeded:
            await record_success(
                session,
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                attempt=attempt,
                payment_intent_id=result.payment_intent_id,
                amount=result.amount,
                currency=request.currency,
                at=now,
            )
            return "succeeded"
        if result.status in ("requires_payment_method", "requires_action", "canceled"):
            # off-session: authentication needed or declined asynchronously = not paid
            await record_failure(
                session,
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                attempt=attempt,
                payment_intent_id=result.payment_intent_id,
                error=f"payment_intent_{result.status}",
                amount=request.amount_due,
                currency=request.currency,
                at=now,
            )
            return "failed"
        # processing: the webhook settles it
        await repository.set_attempt_payment_intent(
            session, tenant_id, invoice_id, attempt, result.payment_intent_id
        )
        return "pending"


async def _claim(
    tenant_id: uuid.UUID, invoice_id: uuid.UUID, *, now: datetime
) -> ChargeOutcome | tuple[int, ChargeRequest, str, str]:
    async with session_scope(STAFF) as session:
        invoice = await repository.load_invoice(session, tenant_id, invoice_id)
        if invoice is None or invoice.status not in UNPAID or invoice.amount_due <= 0:
            return ChargeOutcome(invoice_id, "skipped", detail="not payable")
        method = await repository.default_method(session, tenant_id)
        if method is None:
            return ChargeOutcome(invoice_id, "skipped", detail="no payment method")
        attempts = await repository.attempts_of(session, tenant_id, invoice_id)
        latest = attempts[-1] if attempts else None
        row: PaymentAttempt | None
        if latest is not None and latest.status == AttemptStatus.SUCCEEDED:
            return ChargeOutcome(invoice_id, "skipped", latest.attempt, detail="already charged")
        if latest is not None and latest.status == AttemptStatus.PENDING:
            if latest.created_at > now - RESEND_PENDING_AFTER:
                return ChargeOutcome(invoice_id, "pending", latest.attempt, detail="in progress")
            row = latest  # presumed lost: resend with the same idempotency key
        else:
            row = await repository.claim_attempt(
                session,
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                attempt=(latest.attempt + 1) if latest else 1,
                amount=invoice.amount_due,
                currency=invoice.currency,
                now=now,
            )
            if row is None:
                return ChargeOutcome(invoice_id, "pending", detail="claimed by another worker")
        request = ChargeRequest(invoice.id, tenant_id, row.amount, row.currency)
        return row.attempt, request, method.stripe_customer_id, method.stripe_payment_method_id


# --- recording results (the charge itself and Stripe's webhooks) ---------------------------


async def _attempt_for_update(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    amount: int,
    currency: str,
    at: datetime,
) -> PaymentAttempt:
    row = await repository.get_attempt(session, tenant_id, invoice_id, attempt, lock=True)
    if row is None:  # a payment we did not start here (or whose claim we never saw)
        await repository.claim_attempt(
            session,
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            attempt=attempt,
            amount=amount,
            currency=currency,
            now=at,
        )
        row = await repository.get_attempt(session, tenant_id, invoice_id, attempt, lock=True)
    assert row is not None
    return row


async def record_success(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    payment_intent_id: str,
    amount: int,
    currency: str,
    at: datetime,
) -> None:
    """Attempt succeeded → invoice paid (idempotent; emits ``invoice.paid`` once)."""
    row = await _attempt_for_update(
        session,
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        attempt=attempt,
        amount=amount,
        currency=currency,
        at=at,
    )
    if row.payment_intent_id and row.payment_intent_id != payment_intent_id:
        # Money was taken for this invoice all the same: record it, flag the oddity.
        log.warning(
            "billing.payment_intent_mismatch",
            invoice_id=str(invoice_id),
            attempt=attempt,
            recorded=row.payment_intent_id,
            reported=payment_intent_id,
        )
    row.status = AttemptStatus.SUCCEEDED.value
    row.payment_intent_id = row.payment_intent_id or payment_intent_id
    row.error = None
    row.completed_at = row.completed_at or at
    await session.flush()
    invoice = await repository.load_invoice(session, tenant_id, invoice_id)
    if invoice is None:
        return
    if invoice.status == InvoiceStatus.VOID:
        log.error("billing.paid_void_invoice", invoice_id=str(invoice_id), pi=payment_intent_id)
        return
    await invoices.mark_paid(
        session, invoice_id, paid_at=at, amount=amount, payment_ref=payment_intent_id
    )


async def record_failure(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    payment_intent_id: str | None,
    error: str,
    amount: int,
    currency: str,
    at: datetime,
) -> None:
    """Attempt failed → invoice payment_failed with the next retry, unless the facts say
    otherwise (the attempt succeeded, a later attempt exists, another PaymentIntent)."""
    row = await _attempt_for_update(
        session,
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        attempt=attempt,
        amount=amount,
        currency=currency,
        at=at,
    )
    if row.status == AttemptStatus.SUCCEEDED:
        return
    if payment_intent_id and row.payment_intent_id and row.payment_intent_id != payment_intent_id:
        log.warning(
            "billing.stale_failure_ignored",
            invoice_id=str(invoice_id),
            attempt=attempt,
            recorded=row.payment_intent_id,
            reported=payment_intent_id,
        )
        return
    row.status = AttemptStatus.FAILED.value
    row.payment_intent_id = row.payment_intent_id or payment_intent_id
    row.error = error[:500]
    row.completed_at = row.completed_at or at
    await session.flush()

    await _apply_dunning(session, tenant_id, invoice_id)


async def _apply_dunning(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID
) -> None:
    """Set the invoice's failure and next retry from ALL recorded attempts, so the result
    is the same whichever failure was reported first: the latest attempt decides, and
    the schedule counts from the earliest failure."""
    attempts = await repository.attempts_of(session, tenant_id, invoice_id)
    latest = attempts[-1]
    if latest.status != AttemptStatus.FAILED:
        return  # a newer attempt is in flight or succeeded: it decides
    failed_at = [a.completed_at or a.created_at for a in attempts if a.status == "failed"]
    await invoices.mark_payment_failed(
        session,
        invoice_id,
        error=latest.error or "payment_failed",
        attempt=latest.attempt,
        next_retry_at=dunning.next_retry_at(latest.attempt, min(failed_at)),
    )
