"""Quote wire contract: staff shapes (everything) and client shapes (no internals).

Money: integer minor units beside a ``currency`` field. ``one_off_total`` and
``monthly_total`` are gross (net + tax); ``*_net`` and ``*_tax`` stand beside them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.models import QuoteStatus
from shared.http.fields import Int4

MAX_LINES = 500
Quantity = Annotated[Decimal, msgspec.Meta(description="0 to 1e9, at most 4 decimal places")]
Discount = Annotated[Decimal, msgspec.Meta(description="percent, 0 to 100, at most 2 places")]
MinorUnits = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class QuoteLineInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A rate card line (``rate_code``) or a fixed-price line (``name``, ``kind``,
    ``fixed_amount``).

    A rate card line may override the unit price, with a reason (never shown to the
    client). ``discount_pct`` is a percentage 0..100 off the line.
    """

    rate_code: str | None = None
    name: Text200 | None = None
    kind: LineKind | None = None
    quantity: Quantity = Decimal(1)
    unit_price_override: MinorUnits | None = None
    override_reason: Reason | None = None
    discount_pct: Discount = Decimal(0)
    fixed_amount: MinorUnits | None = None


class QuoteCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    project_id: uuid.UUID
    lines: Annotated[list[QuoteLineInput], msgspec.Meta(max_length=MAX_LINES)]
    valid_until: date | None = None


class QuoteUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """New lines and/or validity. On a sent quote this makes a new (draft) version."""

    lines: Annotated[list[QuoteLineInput], msgspec.Meta(max_length=MAX_LINES)] | None = None
    valid_until: date | None = None


class QuoteAccept(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``version``: the version the signer saw; accepting an older one is ``quote_superseded``."""

    version: Int4 | None = None


class QuoteReject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason | None = None


class QuoteLineOut(msgspec.Struct, kw_only=True):
    """A line as staff see it (list price, override reason, rate card item version)."""

    id: uuid.UUID
    position: int
    rate_code: str | None
    rate_card_item_id: uuid.UUID | None
    rate_card_version: int | None
    name: str
    kind: LineKind
    unit: str
    quantity: Decimal
    list_unit_price: int | None
    unit_price: int
    override_reason: str | None
    discount_pct: Decimal
    net: int


class ClientQuoteLine(msgspec.Struct, kw_only=True):
    """A line as the client sees it: no list price, no override reason."""

    id: uuid.UUID
    position: int
    name: str
    kind: LineKind
    unit: str
    quantity: Decimal
    unit_price: int
    discount_pct: Decimal
    net: int


class _QuoteBase(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    status: QuoteStatus
    version: int
    """The version shown."""
    current_version: int
    currency: str
    valid_until: date
    tax_rate_bp: int
    one_off_net: int
    one_off_tax: int
    one_off_total: int
    monthly_net: int
    monthly_tax: int
    monthly_total: int
    usage_estimate_net: int
    usage_estimate_tax: int
    usage_estimate_total: int
    sent_at: datetime | None
    decided_at: datetime | None
    accepted_version: int | None
    created_at: datetime
    updated_at: datetime


class Quote(_QuoteBase, kw_only=True, tag="staff", tag_field="view"):
    """A quote at one version, as staff see it (``view``: ``staff``, which tells it from a
    :class:`ClientQuote` in a list of either)."""

    created_by: uuid.UUID | None
    decided_by: str | None
    lines: list[QuoteLineOut]


class ClientQuote(_QuoteBase, kw_only=True, tag="client", tag_field="view"):
    """A quote at one version, as the client sees it (``view``: ``client``)."""

    lines: list[ClientQuoteLine]


class QuoteVersionSummary(msgspec.Struct, kw_only=True):
    version: int
    valid_until: date
    one_off_total: int
    monthly_total: int
    usage_estimate_total: int
    currency: str
    created_at: datetime
    sent_at: datetime | None
    current: bool
