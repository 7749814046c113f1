"""Rate card wire contract (msgspec)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from services.pricing.quotes.arithmetic import LineKind
from services.pricing.rate_card.models import Unit

Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,64}$")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
MinorUnits = Annotated[int, msgspec.Meta(ge=0, le=10**12)]


class RateCardPrice(msgspec.Struct, kw_only=True):
    """One item at its current (or asked-for) version: what a quote line copies."""

    id: uuid.UUID
    code: str
    currency: str
    version: int
    name: str
    description: str | None
    unit: Unit
    kind: LineKind
    unit_price: int
    effective_from: datetime

    @property
    def item_id(self) -> uuid.UUID:
        return self.id


class RateCardVersionOut(msgspec.Struct, kw_only=True):
    version: int
    name: str
    description: str | None
    unit: Unit
    kind: LineKind
    unit_price: int
    effective_from: datetime
    effective_to: datetime | None
    created_at: datetime


class RateCardItemDetail(msgspec.Struct, kw_only=True):
    """An item: its version in force now (``current``; null when none is yet) and all versions."""

    id: uuid.UUID
    code: str
    currency: str
    current: RateCardPrice | None
    versions: list[RateCardVersionOut]


class RateCardItemCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code
    name: Name
    unit: Unit
    kind: LineKind
    unit_price: MinorUnits
    currency: Currency = "RUB"
    description: Description | None = None
    effective_from: date | None = None
    """Start of that day (UTC); omitted: at once."""


class RateCardItemUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new version; fields left out keep the newest version's values."""

    name: Name | None = None
    unit: Unit | None = None
    kind: LineKind | None = None
    unit_price: MinorUnits | None = None
    description: Description | None = None
    effective_from: date | None = None
