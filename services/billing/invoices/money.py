"""Money arithmetic of invoices: pure functions over integers in minor units.

- Amounts are ``int`` minor units; quantities are :class:`~decimal.Decimal`.
- A usage line is ``round_half_up(quantity * unit_price * (100 - discount %) / 100)``,
  rounded once per line.
- A monthly fee for part of a month is ``round_half_up(fee * active_days / days_in_month)``;
  a whole month is exactly the fee.
- Tax is ``round_half_up(subtotal * tax_rate_bp / 10 000)``, taken once per invoice;
  ``total = subtotal + tax``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

HUNDRED = Decimal(100)
BASIS_POINTS = Decimal(10_000)
_EXACT = Context(prec=60)


def round_half_up(value: Decimal) -> int:
    """Nearest integer, halves away from zero (``2.5 → 3``)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usage_amount(quantity: Decimal, unit_price: int, discount_pct: Decimal = Decimal(0)) -> int:
    """The net of a usage line in minor units (never negative)."""
    if quantity < 0 or unit_price < 0:
        raise ValueError("quantity and unit_price must not be negative")
    if not Decimal(0) <= discount_pct <= HUNDRED:
        raise ValueError("discount_pct must be between 0 and 100")
    with localcontext(_EXACT):
        return round_half_up(quantity * Decimal(unit_price) * (HUNDRED - discount_pct) / HUNDRED)


def prorate(monthly_fee: int, active_days: int, days_in_month: int) -> int:
    """``monthly_fee`` for ``active_days`` of a ``days_in_month``-day month, half-up."""
    if monthly_fee < 0:
        raise ValueError("monthly_fee must not be negative")
    if not 0 <= active_days <= days_in_month or days_in_month <= 0:
        raise ValueError("active_days must be between 0 and days_in_month")
    if active_days == days_in_month:
        return monthly_fee
    with localcontext(_EXACT):
        return round_half_up(Decimal(monthly_fee) * active_days / days_in_month)


def tax_of(subtotal: int, tax_rate_bp: int) -> int:
    """Tax at ``tax_rate_bp`` basis points (2000 = 20 %), half-up."""
    if tax_rate_bp < 0:
        raise ValueError("tax_rate_bp must not be negative")
    with localcontext(_EXACT):
        return round_half_up(Decimal(subtotal) * tax_rate_bp / BASIS_POINTS)


def split_total(lines: Iterable[int], tax_rate_bp: int) -> tuple[int, int, int]:
    """``(subtotal, tax, total)`` of an invoice whose lines have these amounts."""
    subtotal = sum(lines)
    tax = tax_of(subtotal, tax_rate_bp)
    return subtotal, tax, subtotal + tax


def days_in_month(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
