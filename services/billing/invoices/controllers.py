"""``/v1/invoices``: list, read, PDF, void, credit notes."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import CreditNoteNotFound, InvoiceNotFound
from services.billing.invoices.models import SCHEMA, InvoiceStatus
from services.billing.invoices.pdf import render_invoice_pdf
from services.billing.invoices.schemas import (
    CreditNote,
    CreditNoteCreate,
    Invoice,
    InvoiceDetail,
    VoidRequest,
    credit_note_out,
    detail_out,
    invoice_out,
)
from services.billing.invoices.service import invoices
from services.billing.mirrors.repository import get_customer
from services.billing.runs.service import parse_period
from shared.auth.guards import require_roles, require_scope
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problems
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating

READERS = [
    require_roles(
        Role.ADMIN,
        Role.ACCOUNT_MANAGER,
        Role.CLIENT_ADMIN,
        Role.CLIENT_USER,
        allow_api_keys=True,
    ),
    require_scope("invoices:read"),
]
MANAGERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)]


NOT_FOUND = problems(s404="invoice_not_found (also for another tenant's invoice)")


def credit_note_url(invoice_id: uuid.UUID, note_id: uuid.UUID) -> str:
    return f"/v1/invoices/{invoice_id}/credit-notes/{note_id}"


class InvoiceController(Controller):
    path = "/v1/invoices"
    tags = ["invoices"]

    @get("/", guards=READERS, operation_id="ListInvoices", open_while_suspended=True)
    async def list_invoices(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        status: InvoiceStatus | None = None,
        period: str | None = Parameter(query="period", default=None, description="YYYY-MM"),
        tenant_id: uuid.UUID | None = None,
    ) -> Page[Invoice]:
        """Invoices newest first; clients see their own tenant's only."""
        rows, cursor = await invoices.list_page(
            session,
            ctx,
            params=page_params,
            status=status,
            period=parse_period(period) if period else None,
            tenant_id=tenant_id,
        )
        return Page(items=[invoice_out(r) for r in rows], next_cursor=cursor)

    @get(
        "/{invoice_id:uuid}",
        guards=READERS,
        operation_id="GetInvoice",
        responses=NOT_FOUND,
        open_while_suspended=True,
    )
    async def get_invoice(
        self, ctx: Ctx, session: AsyncSession, invoice_id: uuid.UUID
    ) -> InvoiceDetail:
        """An invoice with its lines and credit notes (another tenant's is a 404)."""
        invoice = await invoices.get(session, ctx, invoice_id)
        lines = await invoices.lines(session, invoice)
        notes = await invoices.credit_notes(session, invoice)
        return detail_out(invoice, lines, notes)

    @get(
        "/{invoice_id:uuid}/pdf",
        guards=READERS,
        operation_id="GetInvoicePdf",
        open_while_suspended=True,
        media_type="application/pdf",
        responses={
            200: ResponseSpec(
                data_container=bytes,
                description="The invoice as a PDF document",
                media_type="application/pdf",
                generate_examples=False,
            ),
            **NOT_FOUND,
        },
    )
    async def invoice_pdf(
        self, ctx: Ctx, session: AsyncSession, invoice_id: uuid.UUID
    ) -> Response[bytes]:
        """The invoice as PDF (Russian)."""
        invoice = await invoices.get(session, ctx, invoice_id)
        customer = await get_customer(session, invoice.tenant_id)
        if customer is None:
            raise InvoiceNotFound()
        body = render_invoice_pdf(
            invoice,
            await invoices.lines(session, invoice),
            await invoices.credit_notes(session, invoice),
            customer=customer,
        )
        filename = f"{invoice.number or invoice.id}.pdf"
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    @post(
        "/{invoice_id:uuid}/void",
        guards=MANAGERS,
        operation_id="VoidInvoice",
        status_code=200,
        responses=problems(
            s404="invoice_not_found",
            s409="illegal_transition (names `from` and `to`)",
        ),
    )
    async def void_invoice(
        self,
        ctx: Ctx,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        data: VoidRequest | None = None,
    ) -> Invoice:
        """Void an issued, unpaid invoice (409 ``illegal_transition`` otherwise)."""
        reason = data.reason if data else ""
        return invoice_out(await invoices.void(session, ctx, invoice_id, reason=reason))

    @post(
        "/{invoice_id:uuid}/credit-notes",
        guards=MANAGERS,
        operation_id="CreateCreditNote",
        status_code=201,
        response_headers=created_headers("The new credit note's URL (201)"),
        responses=creating(
            s404="invoice_not_found",
            s409="illegal_transition (the invoice is not issued), credit_exceeds_invoice",
            s422="validation (amount_or_lines, out_of_range, unknown_line)",
        ),
    )
    async def create_credit_note(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        data: CreditNoteCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CreditNote]:
        """Correct an issued invoice by an amount or by lines; the invoice is not edited.
        Accepts ``Idempotency-Key``."""

        async def make() -> tuple[CreditNote, str, uuid.UUID]:
            note = await invoices.credit(
                session,
                ctx,
                invoice_id,
                reason=data.reason,
                amount=data.amount,
                lines=[{"line_id": x.line_id, "amount": x.amount} for x in data.lines or []],
            )
            return credit_note_out(note), credit_note_url(invoice_id, note.id), note.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get(
        "/{invoice_id:uuid}/credit-notes/{note_id:uuid}",
        guards=READERS,
        operation_id="GetCreditNote",
        open_while_suspended=True,
        responses=problems(s404="invoice_not_found, credit_note_not_found"),
    )
    async def get_credit_note(
        self, ctx: Ctx, session: AsyncSession, invoice_id: uuid.UUID, note_id: uuid.UUID
    ) -> CreditNote:
        """One credit note of an invoice (the ``Location`` of a created one)."""
        invoice = await invoices.get(session, ctx, invoice_id)
        for note in await invoices.credit_notes(session, invoice):
            if note.id == note_id:
                return credit_note_out(note)
        raise CreditNoteNotFound()


INVOICE_ROUTE_HANDLERS = [InvoiceController]
