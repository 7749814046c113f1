"""Invoice rules: the state machine, payments reported by the Stripe piece, credit notes.

    draft ──issue──▶ issued ──▶ paid
                       │  ▲
                       ▼  │ (retry)
                  payment_failed ──▶ overdue ──▶ paid
    issued | payment_failed | overdue ──void──▶ void

- An issued invoice is never edited: corrections are credit notes, which lower what
  is owed (``credited``) without touching lines or totals.
- ``mark_paid`` / ``mark_payment_failed`` / ``mark_overdue`` are idempotent and safe
  in any order (webhooks arrive twice and shuffled): a settled invoice ignores a late
  failure, an older failure never overrides a newer attempt's retry time.
- Events go to the outbox in the caller's transaction: ``invoice.paid`` (onboarding
  reactivates the tenant) and ``invoice.overdue`` (onboarding suspends it).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import (
    CreditExceedsInvoice,
    IllegalInvoiceTransition,
    InvoiceNotFound,
    InvoiceNotPayable,
)
from services.billing.invoices import numbering, repository
from services.billing.invoices.models import (
    UNPAID,
    CreditNote,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from services.billing.invoices.money import tax_of
from shared.audit.log import record
from shared.context import SYSTEM, Ctx
from shared.db.base import utcnow
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import PageParams
from shared.ids import new_id
from shared.messaging.events import Envelope, InvoiceOverdueV1, InvoicePaidV1, new_event
from shared.messaging.outbox import publish

S = InvoiceStatus

TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.DRAFT: frozenset({S.ISSUED, S.VOID}),
    S.ISSUED: frozenset({S.PAID, S.PAYMENT_FAILED, S.OVERDUE, S.VOID}),
    S.PAYMENT_FAILED: frozenset({S.PAID, S.PAYMENT_FAILED, S.OVERDUE, S.VOID}),
    S.OVERDUE: frozenset({S.PAID, S.VOID}),
    S.PAID: frozenset(),
    S.VOID: frozenset(),
}
"""The legal moves of the state machine (``S.PAYMENT_FAILED → S.PAYMENT_FAILED`` is a retry)."""


def can_move(current: InvoiceStatus, target: InvoiceStatus) -> bool:
    return target in TRANSITIONS[current]


def _illegal(invoice: Invoice, target: InvoiceStatus) -> IllegalInvoiceTransition:
    return IllegalInvoiceTransition(
        f"an invoice that is {invoice.status} cannot become {target.value}",
        extra={"from": invoice.status, "to": target.value},
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _require_room(invoice: Invoice, total: int) -> None:
    """409 when a credit of ``total`` (tax included) exceeds what is not yet credited."""
    room = invoice.total - invoice.credited
    if total > room:
        raise CreditExceedsInvoice(
            f"the credit ({total}) exceeds what remains credited-free ({room})",
            extra={"available": room, "requested": total},
        )


class InvoiceService:
    """Stateless; every method takes the session first (and the caller where it matters)."""

    # ---------------------------------------------------------------- reading

    async def get(self, session: AsyncSession, ctx: Ctx, invoice_id: uuid.UUID) -> Invoice:
        """An invoice the caller may see; anything else is :class:`InvoiceNotFound`."""
        invoice = await repository.get(session, ctx, invoice_id)
        if invoice is None:
            raise InvoiceNotFound()
        return invoice

    async def list_page(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        params: PageParams,
        status: InvoiceStatus | None = None,
        period: Any = None,
        tenant_id: uuid.UUID | None = None,
    ) -> tuple[list[Invoice], str | None]:
        return await repository.list_page(
            session, ctx, params=params, status=status, period=period, tenant_id=tenant_id
        )

    async def lines(self, session: AsyncSession, invoice: Invoice) -> list[InvoiceLine]:
        return list(await repository.lines_of(session, invoice))

    async def credit_notes(self, session: AsyncSession, invoice: Invoice) -> list[CreditNote]:
        return list(await repository.credit_notes_of(session, invoice))

    async def issued_unpaid(
        self, session: AsyncSession, limit: int = 100, *, now: datetime | None = None
    ) -> list[Invoice]:
        """Invoices to charge now: ``issued`` ones (never attempted, or whose
        ``next_payment_at`` has come) and ``payment_failed`` ones whose retry is due.
        Oldest first, locked ``FOR UPDATE SKIP LOCKED`` for the caller's transaction."""
        return await repository.awaiting_payment(session, now=now or utcnow(), limit=limit)

    # ---------------------------------------------------------------- payments

    async def _locked(self, session: AsyncSession, invoice_id: uuid.UUID) -> Invoice:
        invoice = await repository.get(session, SYSTEM, invoice_id, for_update=True)
        if invoice is None:
            raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
        return invoice

    async def mark_paid(
        self,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        *,
        paid_at: datetime,
        amount: int,
        payment_ref: str | None,
    ) -> Invoice:
        """Record the payment (idempotent: a paid invoice is returned unchanged) and emit
        ``invoice.paid``. A void invoice raises :class:`InvoiceNotPayable`."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError("amount must be a non-negative int in minor units")
        invoice = await self._locked(session, invoice_id)
        status = S(invoice.status)
        if status is S.PAID:
            return invoice
        if status is S.VOID or status is S.DRAFT:
            raise InvoiceNotPayable(
                f"invoice {invoice.number or invoice.id} is {invoice.status}",
                extra={"status": invoice.status},
            )
        invoice.status = S.PAID.value
        invoice.paid_at = _aware(paid_at)
        invoice.amount_paid = amount
        invoice.payment_ref = payment_ref
        invoice.next_payment_at = None
        invoice.updated_at = utcnow()
        await session.flush()
        await publish(
            session,
            new_event(
                "invoice.paid",
                tenant_id=invoice.tenant_id,
                payload=InvoicePaidV1(
                    invoice_id=invoice.id,
                    number=invoice.number or "",
                    currency=invoice.currency,
                    total=invoice.total,
                    amount_paid=amount,
                    paid_at=invoice.paid_at,
                ),
            ),
        )
        return invoice

    async def mark_payment_failed(
        self,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        *,
        error: str,
        attempt: int,
        next_retry_at: datetime | None,
    ) -> Invoice:
        """Record a failed charge ``attempt`` (1-based) and when to retry (``None``: no more).

        Issued → payment_failed; an overdue invoice stays overdue but keeps the retry
        schedule; a paid or void invoice ignores it. A report older than the latest
        attempt already recorded changes nothing.
        """
        invoice = await self._locked(session, invoice_id)
        status = S(invoice.status)
        if status not in UNPAID or attempt < invoice.payment_attempts:
            return invoice
        if status is S.ISSUED:
            invoice.status = S.PAYMENT_FAILED.value
        invoice.payment_attempts = attempt
        invoice.next_payment_at = _aware(next_retry_at) if next_retry_at else None
        invoice.last_payment_error = error[:500]
        invoice.updated_at = utcnow()
        await session.flush()
        return invoice

    async def mark_overdue(
        self, session: AsyncSession, invoice_id: uuid.UUID, *, now: datetime | None = None
    ) -> Invoice:
        """Issued or failed → overdue, emitting ``invoice.overdue`` (onboarding suspends the
        tenant). Idempotent: an overdue, paid or void invoice is returned unchanged."""
        invoice = await self._locked(session, invoice_id)
        await self.mark_overdue_many(session, invoice.tenant_id, [invoice.id], now=now)
        return invoice

    async def mark_overdue_many(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        invoice_ids: Sequence[uuid.UUID],
        *,
        now: datetime | None = None,
    ) -> list[Invoice]:
        """:meth:`mark_overdue` for several invoices of one tenant in one statement; the
        answer holds just the invoices this call moved (each emits ``invoice.overdue``
        once, whoever else runs at the same time)."""
        now = now or utcnow()
        moved = await repository.mark_overdue(session, tenant_id, invoice_ids, now)
        for invoice in moved:
            await publish(session, _overdue_event(invoice, now))
        return moved

    # ---------------------------------------------------------------- staff actions

    async def void(
        self, session: AsyncSession, ctx: Ctx, invoice_id: uuid.UUID, *, reason: str
    ) -> Invoice:
        """Void an issued, unpaid invoice (staff). Its number stays taken."""
        invoice = await repository.get(session, ctx, invoice_id, for_update=True)
        if invoice is None:
            raise InvoiceNotFound()
        if not can_move(S(invoice.status), S.VOID):
            raise _illegal(invoice, S.VOID)
        before = {"status": invoice.status}
        now = utcnow()
        invoice.status = S.VOID.value
        invoice.voided_at = now
        invoice.void_reason = reason
        invoice.next_payment_at = None
        invoice.updated_at = now
        await session.flush()
        await record(
            session,
            ctx,
            action="invoice.voided",
            entity="invoice",
            entity_id=invoice.id,
            tenant_id=invoice.tenant_id,
            before=before,
            after={"status": invoice.status, "reason": reason},
        )
        return invoice

    async def credit(
        self,
        session: AsyncSession,
        ctx: Ctx,
        invoice_id: uuid.UUID,
        *,
        reason: str,
        amount: int | None = None,
        lines: list[dict[str, Any]] | None = None,
    ) -> CreditNote:
        """A credit note against an issued invoice: ``amount`` (net) or ``lines``
        (``{"line_id", "amount"}``, each at most its line's amount). Tax at the invoice's
        rate is added; credits never exceed what the invoice still owes."""
        invoice = await repository.get(session, ctx, invoice_id, for_update=True)
        if invoice is None:
            raise InvoiceNotFound()
        if S(invoice.status) not in UNPAID | {S.PAID}:
            raise _illegal(invoice, S(invoice.status))
        credit_lines = await self._credit_lines(session, invoice, amount, lines or [])
        subtotal = sum(x["amount"] for x in credit_lines)
        tax = tax_of(subtotal, invoice.tax_rate_bp)
        _require_room(invoice, subtotal + tax)
        earlier = await repository.credit_note_count(session, invoice)
        note = CreditNote(
            tenant_id=invoice.tenant_id,
            id=new_id(),
            invoice_id=invoice.id,
            number=f"{invoice.number}-C{earlier + 1}",
            currency=invoice.currency,
            subtotal=subtotal,
            tax=tax,
            total=subtotal + tax,
            reason=reason,
            lines=credit_lines,
            created_by=ctx.actor,
            created_at=utcnow(),
        )
        session.add(note)
        before = {"credited": invoice.credited}
        invoice.credited += note.total
        invoice.updated_at = utcnow()
        await session.flush()
        await numbering.register(
            session, DocumentKind.CREDIT_NOTE, [(note.number, note.tenant_id, note.id)]
        )
        await record(
            session,
            ctx,
            action="invoice.credited",
            entity="invoice",
            entity_id=invoice.id,
            tenant_id=invoice.tenant_id,
            before=before,
            after={"credited": invoice.credited, "credit_note": note.number, "reason": reason},
        )
        return note

    async def _credit_lines(
        self,
        session: AsyncSession,
        invoice: Invoice,
        amount: int | None,
        lines: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        if (amount is None) == (not lines):
            raise ValidationFailed.one("amount", "amount_or_lines", "give amount or lines")
        if amount is not None:
            if amount <= 0:
                raise ValidationFailed.one("amount", "out_of_range", "must be positive")
            return [{"line_id": None, "description": "Корректировка", "amount": amount}]
        by_id = {line.id: line for line in await repository.lines_of(session, invoice)}
        errors: list[FieldError] = []
        out: list[dict[str, Any]] = []
        for i, item in enumerate(lines):
            line = by_id.get(item["line_id"])
            value = item["amount"]
            if line is None:
                errors.append(FieldError(f"lines[{i}].line_id", "unknown_line", "not a line here"))
            elif not 0 < value <= line.amount:
                errors.append(FieldError(f"lines[{i}].amount", "out_of_range", f"1..{line.amount}"))
            else:
                out.append(
                    {"line_id": str(line.id), "description": line.description, "amount": value}
                )
        if errors:
            raise ValidationFailed(errors)
        return out


invoices = InvoiceService()


def _overdue_event(invoice: Invoice, now: datetime) -> Envelope:
    due = invoice.due_at or now
    return new_event(
        "invoice.overdue",
        tenant_id=invoice.tenant_id,
        payload=InvoiceOverdueV1(
            invoice_id=invoice.id,
            number=invoice.number or "",
            currency=invoice.currency,
            total=invoice.total,
            amount_due=invoice.amount_due,
            due_at=invoice.due_at,
            days_overdue=max((now - due).days, 0),
        ),
    )
