"""Pricing a quote's lines: each input line checked and priced from the rate card in
force (or at its own fixed amount), and the totals of priced lines.

One rate card query for the whole quote; each distinct quantity and discount is
checked once (a 200-line quote repeats a few), and nothing is allocated per line
beyond the line itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, localcontext
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import InvalidQuoteLines
from services.pricing.quotes.arithmetic import (
    HUNDRED,
    LineKind,
    Totals,
    line_net_scaled,
    totals_of_nets,
)
from services.pricing.quotes.models import QuoteLine
from services.pricing.quotes.schemas import QuoteLineInput, QuoteLineOut
from services.pricing.rate_card import repository as rate_card_repository
from shared.errors import FieldError
from shared.ids import new_id

QUANTITY_PLACES = 4
MAX_QUANTITY = Decimal(10**9)
DISCOUNT_PLACES = 2
FIXED_UNIT = {LineKind.ONE_OFF: "piece", LineKind.MONTHLY: "month", LineKind.USAGE: "piece"}
_KINDS = {kind.value: kind for kind in LineKind}
_EXACT = Context(prec=60)  # as arithmetic's


def _places_ok(value: Decimal, places: int) -> bool:
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


class _Amount(NamedTuple):
    """A quantity or a discount, checked once per distinct value (a quote repeats a few)."""

    in_range: bool
    precise: bool
    """At most its number of decimal places."""
    stored: Decimal
    """As its column stores it, so a line reads the same before and after a reload."""
    scaled: int
    """``stored`` times 10**places: whole, for :func:`line_net_scaled`."""


def _amount(value: Decimal, high: Decimal, places: int) -> _Amount:
    if not 0 <= value <= high:
        return _Amount(False, False, value, 0)
    # copy_abs: -0 is stored (and read back) as 0.
    stored = value.copy_abs().quantize(Decimal(1).scaleb(-places))
    return _Amount(True, _places_ok(value, places), stored, int(stored.scaleb(places)))


def _checked(
    seen: dict[Decimal, _Amount], value: Decimal, high: Decimal, places: int
) -> _Amount | None:
    """``value`` checked (once per distinct value); ``None`` when it is not finite."""
    if not value.is_finite():  # a NaN is no dictionary key
        return None
    found = seen.get(value)
    if found is None:
        found = seen[value] = _amount(value, high, places)
    return found


async def price_lines(
    session: AsyncSession,
    currency: str,
    lines: Sequence[QuoteLineInput],
    *,
    at: datetime,
    rate_card_token: uuid.UUID | None = None,
) -> list[QuoteLineOut]:
    """Each input line priced from the rate card in force at ``at``, as the staff shape
    of the line to store (fresh id, position from 1).

    ``rate_card_token``: the rate card's token as read in this transaction, so a held
    copy of the card may answer (``None``: the card is read).
    Raises :class:`InvalidQuoteLines` naming every bad field (``lines[3].rate_code``).
    """
    errors: list[FieldError] = []
    if not lines:
        errors.append(FieldError("lines", "empty", "a quote needs at least one line"))
    prices = await rate_card_repository.current_by_code(
        session, currency, at, token=rate_card_token
    )
    priced: list[QuoteLineOut] = []
    quantities: dict[Decimal, _Amount] = {}
    discounts: dict[Decimal, _Amount] = {}
    # Exact, as arithmetic's: a too-precise value must not round into a precise one.
    with localcontext(_EXACT):
        for i, line in enumerate(lines):
            out = price_line(i, line, currency, prices, quantities, discounts, errors)
            if out is not None:
                priced.append(out)
    if errors:
        raise InvalidQuoteLines(errors)
    return priced


@dataclass(frozen=True, slots=True)
class _Bounds:
    """What a line's quantity or discount must be: its field, upper bound and places."""

    field: str
    high: Decimal
    places: int

    @property
    def out_of_range(self) -> str:
        return f"must be between 0 and {self.high}"

    @property
    def too_precise(self) -> str:
        return f"at most {self.places} decimal places"


_QUANTITY = _Bounds("quantity", MAX_QUANTITY, QUANTITY_PLACES)
_DISCOUNT = _Bounds("discount_pct", HUNDRED, DISCOUNT_PLACES)


def _bad(errors: list[FieldError], i: int, name: str, code: str, message: str) -> None:
    errors.append(FieldError(f"lines[{i}].{name}", code, message))


def price_line(
    i: int,
    line: QuoteLineInput,
    currency: str,
    prices: Mapping[str, rate_card_repository.CurrentPrice],
    quantities: dict[Decimal, _Amount],
    discounts: dict[Decimal, _Amount],
    errors: list[FieldError],
) -> QuoteLineOut | None:
    """One input line priced, or ``None`` with its problems added to ``errors``.

    A line out of range is not looked at further; otherwise every problem is named
    (too precise, a reason without an override, then the rate card or fixed-price rules).
    """
    quantity = _in_range(errors, i, _QUANTITY, line.quantity, quantities)
    if quantity is None:
        return None
    discount = _in_range(errors, i, _DISCOUNT, line.discount_pct, discounts)
    if discount is None:
        return None
    if not quantity.precise:
        _bad(errors, i, _QUANTITY.field, "too_precise", _QUANTITY.too_precise)
    if not discount.precise:
        _bad(errors, i, _DISCOUNT.field, "too_precise", _DISCOUNT.too_precise)
    if line.override_reason is not None and line.unit_price_override is None:
        _bad(errors, i, "override_reason", "without_override", "a reason needs unit_price_override")
    if line.rate_code:
        found = prices.get(line.rate_code)
        return _card_line(i, line, currency, found, quantity, discount, errors)
    return _fixed_line(i, line, quantity, discount, errors)


def _in_range(
    errors: list[FieldError],
    i: int,
    bounds: _Bounds,
    value: Decimal,
    seen: dict[Decimal, _Amount],
) -> _Amount | None:
    """``value`` (a quantity or a discount) checked, or ``None`` with ``out_of_range``."""
    amount = _checked(seen, value, bounds.high, bounds.places)
    if amount is None or not amount.in_range:
        _bad(errors, i, bounds.field, "out_of_range", bounds.out_of_range)
        return None
    return amount


def _card_line(
    i: int,
    line: QuoteLineInput,
    currency: str,
    found: rate_card_repository.CurrentPrice | None,
    quantity: _Amount,
    discount: _Amount,
    errors: list[FieldError],
) -> QuoteLineOut | None:
    """A line priced from the rate card item its ``rate_code`` names (``found``), or at
    an overridden price that gives its reason."""
    if line.fixed_amount is not None:
        _bad(
            errors,
            i,
            "fixed_amount",
            "not_allowed",
            "a rate card line takes its price from the card",
        )
    if found is None:
        message = f"no rate card item {line.rate_code!r} in {currency}"
        _bad(errors, i, "rate_code", "unknown_rate_code", message)
        return None
    if line.kind is not None and line.kind.value != found.kind:
        _bad(errors, i, "kind", "kind_mismatch", f"{line.rate_code!r} is a {found.kind} item")
    override = line.unit_price_override
    if override is not None and not line.override_reason:
        _bad(errors, i, "override_reason", "required", "an overridden price needs a reason")
    return _stored_line(
        i,
        quantity,
        discount,
        unit_price=override if override is not None else found.unit_price,
        rate_code=found.code,
        item_id=found.id,
        item_version=found.version,
        name=line.name or found.name,
        kind=_KINDS[found.kind],
        unit=found.unit,
        list_unit_price=found.unit_price,
        reason=line.override_reason if override is not None else None,
    )


def _fixed_line(
    i: int,
    line: QuoteLineInput,
    quantity: _Amount,
    discount: _Amount,
    errors: list[FieldError],
) -> QuoteLineOut | None:
    """A fixed-price line: its own name, kind and ``fixed_amount``, no rate card item."""
    missing = [name for name in ("name", "kind", "fixed_amount") if getattr(line, name) is None]
    for field in missing:
        _bad(errors, i, field, "required", "a fixed-price line needs name, kind and fixed_amount")
    if line.unit_price_override is not None:
        _bad(
            errors, i, "unit_price_override", "not_allowed", "a fixed-price line uses fixed_amount"
        )
    if missing or line.kind is None or line.fixed_amount is None or line.name is None:
        return None
    return _stored_line(
        i,
        quantity,
        discount,
        unit_price=line.fixed_amount,
        rate_code=None,
        item_id=None,
        item_version=None,
        name=line.name,
        kind=line.kind,
        unit=FIXED_UNIT[line.kind],
        list_unit_price=None,
        reason=None,
    )


def _stored_line(
    i: int,
    quantity: _Amount,
    discount: _Amount,
    *,
    unit_price: int,
    rate_code: str | None,
    item_id: uuid.UUID | None,
    item_version: int | None,
    name: str,
    kind: LineKind,
    unit: str,
    list_unit_price: int | None,
    reason: str | None,
) -> QuoteLineOut:
    """The line as stored: a fresh id, position from 1, amounts as their columns hold them."""
    if unit_price < 0:
        raise ValueError("unit_price must not be negative")
    return QuoteLineOut(
        id=new_id(),
        position=i + 1,
        rate_code=rate_code,
        rate_card_item_id=item_id,
        rate_card_version=item_version,
        name=name,
        kind=kind,
        unit=unit,
        quantity=quantity.stored,
        list_unit_price=list_unit_price,
        unit_price=unit_price,
        override_reason=reason,
        discount_pct=discount.stored,
        net=line_net_scaled(quantity.scaled, unit_price, discount.scaled),
    )


def totals_of(lines: Iterable[QuoteLineOut] | Iterable[QuoteLine], tax_rate_bp: int) -> Totals:
    nets: dict[str, int] = dict.fromkeys(LineKind, 0)
    for line in lines:
        nets[line.kind] += line.net  # a LineKind and its value are the same key
    return totals_of_nets(nets, tax_rate_bp)
