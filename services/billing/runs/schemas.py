"""Wire shapes of billing runs."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import msgspec


class BillingRunRequest(msgspec.Struct, frozen=True, kw_only=True):
    period: str
    """The month to close, ``YYYY-MM``."""
    tenant_ids: list[uuid.UUID] | None = None
    """Only these tenants (default: every customer)."""
    preview: bool = False
    """Show what would be issued; write nothing."""
    confirm: bool = False
    """Required (``true``) to close the period for every customer (no ``tenant_ids``)."""


class RunLine(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    project_id: uuid.UUID | None
    code: str
    description: str
    note: str | None
    unit: str
    quantity: Decimal
    unit_price: int
    amount: int
    service_month: date | None
    late: bool


class RunInvoice(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    invoice_id: uuid.UUID | None
    number: str | None
    currency: str
    subtotal: int
    tax: int
    total: int
    line_count: int
    lines: list[RunLine] | None = None
    """Only in a preview."""


class BillingRun(msgspec.Struct, frozen=True, kw_only=True):
    run_id: uuid.UUID | None
    period: str
    period_start: date
    period_end: date
    preview: bool
    tenants_closed: int
    """Customers whose period this run closed (or would close)."""
    invoices_issued: int
    """Invoices issued (or, in a preview, that would be)."""
    nothing_to_bill: int
    already_closed: int
    """Customers skipped because the period was already closed for them."""
    invoices: list[RunInvoice]
