"""Stripe webhooks: store first (unique by Stripe's event id), act later, idempotently.

The route (:mod:`services.billing.stripe.controllers`) verifies the signature on the
raw body and calls :func:`store_event`; the actor ``billing.process_stripe_event``
(sent after the commit) and the sweep job call :func:`process_event`, which locks the
unprocessed row, applies it and marks it processed in one transaction: a repeated
delivery is not stored twice, and a stored event is applied once.

Only PaymentIntent events matter to us; everything else is stored and marked
processed with a note. What a PaymentIntent event does is decided by
:mod:`services.billing.stripe.payments` from the facts it carries (invoice id,
tenant id and attempt in its metadata, and its own id), so arrival order does not
change the outcome.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.stripe import payments, repository
from services.billing.stripe.gateway import StripeEvent
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope

log = structlog.get_logger(__name__)

HANDLED = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


async def store_event(session: AsyncSession, event: StripeEvent) -> bool:
    """Store a verified event; ``False`` when the same event id was stored before."""
    stored = await repository.insert_event(
        session, id=event.id, type=event.type, payload=event.payload
    )
    log.info("billing.stripe_event_received", event_id=event.id, type=event.type, new=stored)
    return stored


async def process_event(event_id: str) -> bool:
    """Apply one stored event if it is not yet processed; ``True`` when this call did it."""
    try:
        async with session_scope(STAFF) as session:
            row = await repository.claim_event(session, event_id)
            if row is None:
                return False
            note = await apply_event(session, row.type, row.payload)
            await repository.finish_event(session, event_id, note=note)
    except Exception as exc:
        async with session_scope(STAFF) as session:
            await repository.record_event_error(session, event_id, f"{type(exc).__name__}: {exc}")
        raise
    log.info("billing.stripe_event_processed", event_id=event_id, note=note)
    return True


async def process_pending(*, older_than_seconds: int = 30, limit: int = 200) -> dict[str, int]:
    """Apply stored events nobody applied yet (a lost message, a failed attempt)."""
    async with session_scope(STAFF) as session:
        ids = await repository.unprocessed_event_ids(
            session,
            received_before=utcnow() - timedelta(seconds=older_than_seconds),
            limit=limit,
        )
    done = failed = 0
    for event_id in ids:
        try:
            done += int(await process_event(event_id))
        except Exception:
            failed += 1
            log.warning("billing.stripe_event_failed", event_id=event_id, exc_info=True)
    return {"processed": done, "failed": failed}


async def apply_event(session: AsyncSession, type_: str, payload: dict[str, Any]) -> str | None:
    """Apply one event in the caller's transaction; returns a note when it was ignored."""
    if type_ not in HANDLED:
        return f"ignored: {type_} is not handled"
    obj = (payload.get("data") or {}).get("object") or {}
    ref = _payment_ref(obj)
    if ref is None:
        return "ignored: not a Kolokol invoice payment"
    tenant_id, invoice_id, attempt = ref
    if await repository.load_invoice(session, tenant_id, invoice_id) is None:
        return f"ignored: unknown invoice {invoice_id}"
    at = _event_time(payload)
    pi_id = str(obj.get("id") or "")
    amount = _int(obj.get("amount_received")) or _int(obj.get("amount"))
    currency = str(obj.get("currency") or "").upper()[:3]
    if type_ == "payment_intent.succeeded":
        await payments.record_success(
            session,
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            attempt=attempt,
            payment_intent_id=pi_id,
            amount=amount,
            currency=currency,
            at=at,
        )
    else:
        error = obj.get("last_payment_error") or {}
        code = error.get("decline_code") or error.get("code") or "payment_failed"
        message = error.get("message") or "the payment failed"
        await payments.record_failure(
            session,
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            attempt=attempt,
            payment_intent_id=pi_id or None,
            error=f"{code}: {message}"[:500],
            amount=_int(obj.get("amount")),
            currency=currency,
            at=at,
        )
    return None


def _payment_ref(obj: dict[str, Any]) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    metadata = obj.get("metadata") or {}
    try:
        return (
            uuid.UUID(str(metadata["tenant_id"])),
            uuid.UUID(str(metadata["invoice_id"])),
            int(metadata["attempt"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


def _event_time(payload: dict[str, Any]) -> datetime:
    created = payload.get("created")
    if isinstance(created, int | float) and created > 0:
        return datetime.fromtimestamp(created, UTC)
    return utcnow()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
