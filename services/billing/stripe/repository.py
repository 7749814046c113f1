"""Every query of billing's Stripe side: webhook events, payment attempts, payment methods.

Sessions are staff-scoped (workers, the webhook) or tenant-scoped (a client attaching
a card); tenant-owned rows are filtered by ``tenant_id`` here as well as by RLS.
Invoices are read here (same service) but only ever changed through the ledger's
``invoices`` service.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.invoices.models import Invoice, InvoiceStatus
from services.billing.stripe.models import (
    AttemptStatus,
    PaymentAttempt,
    PaymentMethod,
    StripeEventRow,
)
from shared.ids import new_id

# --- webhook events -------------------------------------------------------------------


async def insert_event(
    session: AsyncSession, *, id: str, type: str, payload: dict[str, Any]
) -> bool:
    """Store an event once; ``False`` when its id was already stored."""
    stmt = (
        pg_insert(StripeEventRow)
        .values(id=id, type=type, payload=payload)
        .on_conflict_do_nothing(index_elements=[StripeEventRow.id])
        .returning(StripeEventRow.id)
    )
    return (await session.scalar(stmt)) is not None


async def claim_event(session: AsyncSession, event_id: str) -> StripeEventRow | None:
    """The unprocessed event, locked for this transaction (``None``: done or being done)."""
    stmt = (
        select(StripeEventRow)
        .where(StripeEventRow.id == event_id, StripeEventRow.processed_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def finish_event(session: AsyncSession, event_id: str, *, note: str | None = None) -> None:
    await session.execute(
        update(StripeEventRow)
        .where(StripeEventRow.id == event_id)
        .values(processed_at=func.now(), attempts=StripeEventRow.attempts + 1, error=note)
    )


async def record_event_error(session: AsyncSession, event_id: str, error: str) -> None:
    await session.execute(
        update(StripeEventRow)
        .where(StripeEventRow.id == event_id, StripeEventRow.processed_at.is_(None))
        .values(attempts=StripeEventRow.attempts + 1, error=error[:2000])
    )


async def unprocessed_event_ids(
    session: AsyncSession, *, received_before: datetime, limit: int
) -> list[str]:
    stmt = (
        select(StripeEventRow.id)
        .where(
            StripeEventRow.processed_at.is_(None),
            StripeEventRow.received_at < received_before,
        )
        .order_by(StripeEventRow.received_at, StripeEventRow.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def delete_processed_events(session: AsyncSession, *, older_than: timedelta) -> int:
    result = await session.execute(
        delete(StripeEventRow).where(
            StripeEventRow.processed_at.is_not(None),
            StripeEventRow.processed_at < func.now() - older_than,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def get_event(session: AsyncSession, event_id: str) -> StripeEventRow | None:
    return await session.get(StripeEventRow, event_id)


# --- payment attempts -----------------------------------------------------------------


async def attempts_of(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID
) -> Sequence[PaymentAttempt]:
    stmt = (
        select(PaymentAttempt)
        .where(PaymentAttempt.tenant_id == tenant_id, PaymentAttempt.invoice_id == invoice_id)
        .order_by(PaymentAttempt.attempt)
    )
    return (await session.scalars(stmt)).all()


async def get_attempt(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID, attempt: int, *, lock: bool
) -> PaymentAttempt | None:
    stmt = select(PaymentAttempt).where(
        PaymentAttempt.tenant_id == tenant_id,
        PaymentAttempt.invoice_id == invoice_id,
        PaymentAttempt.attempt == attempt,
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def claim_attempt(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    amount: int,
    currency: str,
    status: AttemptStatus = AttemptStatus.PENDING,
    now: datetime,
) -> PaymentAttempt | None:
    """Insert attempt ``attempt`` of the invoice; ``None`` when someone else holds it."""
    stmt = (
        pg_insert(PaymentAttempt)
        .values(
            tenant_id=tenant_id,
            id=new_id(),
            invoice_id=invoice_id,
            attempt=attempt,
            amount=amount,
            currency=currency,
            status=status.value,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                PaymentAttempt.tenant_id,
                PaymentAttempt.invoice_id,
                PaymentAttempt.attempt,
            ]
        )
        .returning(PaymentAttempt)
    )
    return (await session.scalars(stmt)).one_or_none()


async def note_attempt_error(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID, attempt: int, error: str
) -> None:
    """Keep a pending attempt pending (it is resent later) with what went wrong."""
    await session.execute(
        update(PaymentAttempt)
        .where(
            PaymentAttempt.tenant_id == tenant_id,
            PaymentAttempt.invoice_id == invoice_id,
            PaymentAttempt.attempt == attempt,
            PaymentAttempt.status == AttemptStatus.PENDING.value,
        )
        .values(error=error[:500], updated_at=func.now())
    )


async def set_attempt_payment_intent(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    attempt: int,
    payment_intent_id: str,
) -> None:
    await session.execute(
        update(PaymentAttempt)
        .where(
            PaymentAttempt.tenant_id == tenant_id,
            PaymentAttempt.invoice_id == invoice_id,
            PaymentAttempt.attempt == attempt,
            PaymentAttempt.payment_intent_id.is_(None),
        )
        .values(payment_intent_id=payment_intent_id, updated_at=func.now())
    )


async def find_attempt_by_payment_intent(
    session: AsyncSession, payment_intent_id: str
) -> PaymentAttempt | None:
    stmt = select(PaymentAttempt).where(PaymentAttempt.payment_intent_id == payment_intent_id)
    return (await session.scalars(stmt)).first()


# --- payment methods ------------------------------------------------------------------


async def default_method(session: AsyncSession, tenant_id: uuid.UUID) -> PaymentMethod | None:
    stmt = select(PaymentMethod).where(
        PaymentMethod.tenant_id == tenant_id, PaymentMethod.is_default.is_(True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def save_default_method(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    stripe_customer_id: str,
    stripe_payment_method_id: str,
    brand: str | None,
    last4: str | None,
) -> PaymentMethod:
    """Store the method as the tenant's only default (the previous one stays, not default)."""
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.tenant_id == tenant_id, PaymentMethod.is_default.is_(True))
        .values(is_default=False)
    )
    stmt = (
        pg_insert(PaymentMethod)
        .values(
            tenant_id=tenant_id,
            id=new_id(),
            stripe_customer_id=stripe_customer_id,
            stripe_payment_method_id=stripe_payment_method_id,
            brand=brand,
            last4=last4,
            is_default=True,
        )
        .on_conflict_do_update(
            index_elements=[PaymentMethod.tenant_id, PaymentMethod.stripe_payment_method_id],
            set_={"is_default": True, "updated_at": func.now()},
        )
        .returning(PaymentMethod)
    )
    return (await session.scalars(stmt)).one()


# --- invoices to charge and to declare overdue ------------------------------------------


async def chargeable_invoices(
    session: AsyncSession, *, now: datetime, limit: int
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, invoice_id)`` of invoices due a charge now whose tenant saved a card:
    issued and never attempted, or failed with a retry due."""
    has_method = exists().where(
        PaymentMethod.tenant_id == Invoice.tenant_id, PaymentMethod.is_default.is_(True)
    )
    stmt = (
        select(Invoice.tenant_id, Invoice.id)
        .where(
            has_method,
            Invoice.total > 0,
            or_(
                and_(
                    Invoice.status == InvoiceStatus.ISSUED.value, Invoice.next_payment_at.is_(None)
                ),
                and_(
                    Invoice.status.in_(
                        [InvoiceStatus.ISSUED.value, InvoiceStatus.PAYMENT_FAILED.value]
                    ),
                    Invoice.next_payment_at <= now,
                ),
            ),
        )
        .order_by(Invoice.next_payment_at.nulls_first(), Invoice.issued_at, Invoice.id)
        .limit(limit)
    )
    return [(r.tenant_id, r.id) for r in (await session.execute(stmt)).all()]


async def unpaid_invoices_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = (
        select(Invoice.id)
        .where(
            Invoice.tenant_id == tenant_id,
            Invoice.total > 0,
            Invoice.status.in_(
                [
                    InvoiceStatus.ISSUED.value,
                    InvoiceStatus.PAYMENT_FAILED.value,
                    InvoiceStatus.OVERDUE.value,
                ]
            ),
        )
        .order_by(Invoice.issued_at, Invoice.id)
    )
    return list((await session.scalars(stmt)).all())


async def dunning_exhausted(
    session: AsyncSession, *, now: datetime, max_attempts: int, grace: timedelta, limit: int
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    """Invoices that are overdue now:

    - failed ones with no retry left whose last failure is older than the grace period
      and whose due date has passed;
    - issued ones nobody could charge (no payment method saved, paid by transfer)
      whose due date plus the grace period has passed: without this an invoice of a
      tenant with no card would stay ``issued`` for ever and never suspend it.
    """
    last_failure = (
        select(func.max(PaymentAttempt.completed_at))
        .where(
            PaymentAttempt.tenant_id == Invoice.tenant_id,
            PaymentAttempt.invoice_id == Invoice.id,
            PaymentAttempt.status == AttemptStatus.FAILED.value,
        )
        .scalar_subquery()
    )
    stmt = (
        select(Invoice.tenant_id, Invoice.id)
        .where(
            or_(
                and_(
                    Invoice.status == InvoiceStatus.PAYMENT_FAILED.value,
                    Invoice.payment_attempts >= max_attempts,
                    Invoice.next_payment_at.is_(None),
                    or_(Invoice.due_at.is_(None), Invoice.due_at <= now),
                    last_failure <= now - grace,
                ),
                and_(
                    Invoice.status == InvoiceStatus.ISSUED.value,
                    Invoice.payment_attempts == 0,
                    Invoice.due_at <= now - grace,
                ),
            )
        )
        .order_by(Invoice.issued_at, Invoice.id)
        .limit(limit)
    )
    return [(r.tenant_id, r.id) for r in (await session.execute(stmt)).all()]


async def load_invoice(
    session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    return (await session.scalars(stmt)).one_or_none()
