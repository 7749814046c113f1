"""Invoice and credit-note numbers: unique per tenant in their tables (a key a table
distributed by tenant can hold), given once across tenants by the registry."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from services.billing.invoices.models import DocumentKind, document_numbers
from services.billing.invoices.numbering import register
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.billing.conftest import make_customer
from tests.billing.test_invoices import issued_invoice
from tests.support.clients import ApiClient

_COPY_AS = (
    "INSERT INTO billing.invoices (tenant_id, id, number, status, currency, tax_rate_bp,"
    " subtotal, tax, total, period_start, period_end)"
    " SELECT :tenant, :id, number, status, currency, tax_rate_bp, subtotal, tax, total,"
    " period_start + 31, period_end + 31 FROM billing.invoices WHERE id = :source"
)


async def _registered(number: str) -> tuple[str, object, object] | None:
    async with session_scope(STAFF) as session:
        row = (
            await session.execute(
                select(
                    document_numbers.c.kind,
                    document_numbers.c.tenant_id,
                    document_numbers.c.document_id,
                ).where(document_numbers.c.number == number)
            )
        ).first()
    return None if row is None else (row[0], row[1], row[2])


async def test_invoices_and_credit_notes_are_registered_with_their_tenant(
    api_client: ApiClient,
) -> None:
    invoice = await issued_invoice()
    assert invoice.number is not None
    r = await api_client(role=Role.ACCOUNT_MANAGER).post(
        f"/v1/invoices/{invoice.id}/credit-notes", json={"reason": "goodwill", "amount": 100}
    )
    assert r.status_code == 201, r.text
    note = r.json()

    assert await _registered(invoice.number) == ("invoice", invoice.tenant_id, invoice.id)
    assert await _registered(note["number"]) == (
        "credit_note",
        invoice.tenant_id,
        uuid.UUID(note["id"]),
    )


async def test_a_number_given_to_one_tenant_is_refused_to_another() -> None:
    invoice = await issued_invoice()
    assert invoice.number is not None
    other = await make_customer()
    copy_id = new_id()
    async with session_scope(STAFF) as session:
        # The invoices' own key lets another tenant hold the number...
        copied = await session.execute(
            text(_COPY_AS), {"tenant": other.id, "id": copy_id, "source": invoice.id}
        )
        assert copied.rowcount == 1  # type: ignore[attr-defined]
        # ...the registry, entered in the same transaction, does not.
        with pytest.raises(IntegrityError, match="pk_document_numbers"):
            await register(session, DocumentKind.INVOICE, [(invoice.number, other.id, copy_id)])
        await session.rollback()


async def test_a_tenant_never_holds_one_number_twice() -> None:
    invoice = await issued_invoice()
    with pytest.raises(IntegrityError, match="uq_invoices_tenant_id_number"):
        async with session_scope(STAFF) as session:
            await session.execute(
                text(_COPY_AS), {"tenant": invoice.tenant_id, "id": new_id(), "source": invoice.id}
            )
