"""Quote arithmetic: pure functions over integers in minor units, no I/O.

The rules (also in the README's pricing section):

- A line's net is ``round_half_up(quantity * unit_price * (100 - discount_pct) / 100)``
  in minor units, computed exactly in :class:`~decimal.Decimal` and rounded once,
  per line. ``quantity ≥ 0``, ``unit_price ≥ 0`` and ``0 ≤ discount_pct ≤ 100``, so a
  line is never negative.
- A quote has three groups of lines by kind: one-off, monthly and usage (the usage
  quantities are the expected monthly volumes, so their sum is an *estimate*).
- Each group's net is the sum of its lines' nets; its tax is
  ``round_half_up(net * tax_rate_bp / 10000)`` taken once per group (not per line), and
  its gross total is ``net + tax``. ``one_off_total`` and ``monthly_total`` are gross.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

HUNDRED = Decimal(100)
BASIS_POINTS = Decimal(10_000)
_EXACT = Context(prec=60)


class LineKind(enum.StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    USAGE = "usage"


def round_half_up(value: Decimal) -> int:
    """Nearest integer, halves away from zero (``2.5 → 3``, ``-2.5 → -3``)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_net(quantity: Decimal, unit_price: int, discount_pct: Decimal = Decimal(0)) -> int:
    """The net amount of one line in minor units, rounded half-up once."""
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    if unit_price < 0:
        raise ValueError("unit_price must not be negative")
    if not Decimal(0) <= discount_pct <= HUNDRED:
        raise ValueError("discount_pct must be between 0 and 100")
    with localcontext(_EXACT):
        raw = quantity * Decimal(unit_price) * (HUNDRED - discount_pct) / HUNDRED
        return round_half_up(raw)


QUANTITY_SCALE = 10_000
"""Quantities have at most 4 decimal places: ``quantity * QUANTITY_SCALE`` is whole."""
DISCOUNT_SCALE = 100
"""Discounts have at most 2 decimal places: ``discount_pct * DISCOUNT_SCALE`` is whole."""
_LINE_DENOMINATOR = QUANTITY_SCALE * 100 * DISCOUNT_SCALE


def line_net_scaled(quantity_scaled: int, unit_price: int, discount_scaled: int) -> int:
    """:func:`line_net` on whole numbers: ``quantity * QUANTITY_SCALE`` and
    ``discount_pct * DISCOUNT_SCALE``. The same exact value rounded half-up once, without
    Decimal (a 200-line quote prices in a fraction of the time). Inputs as
    :func:`line_net` allows them; not checked here.
    """
    exact = quantity_scaled * unit_price * (100 * DISCOUNT_SCALE - discount_scaled)
    # floor(exact / d + 1/2) for exact >= 0: halves go up.
    return (2 * exact + _LINE_DENOMINATOR) // (2 * _LINE_DENOMINATOR)


def tax_of(net: int, tax_rate_bp: int) -> int:
    """Tax on a net amount at ``tax_rate_bp`` basis points (2000 = 20 %), rounded half-up."""
    if tax_rate_bp < 0:
        raise ValueError("tax_rate_bp must not be negative")
    with localcontext(_EXACT):
        return round_half_up(Decimal(net) * Decimal(tax_rate_bp) / BASIS_POINTS)


@dataclass(frozen=True, slots=True)
class PricedLine:
    """What the totals need from a line: its kind and its net."""

    kind: LineKind
    net: int


@dataclass(frozen=True, slots=True)
class Amounts:
    net: int
    tax: int

    @property
    def gross(self) -> int:
        return self.net + self.tax


@dataclass(frozen=True, slots=True)
class Totals:
    tax_rate_bp: int
    one_off: Amounts
    monthly: Amounts
    usage_estimate: Amounts


def group(net: int, tax_rate_bp: int) -> Amounts:
    return Amounts(net=net, tax=tax_of(net, tax_rate_bp))


def totals(lines: Iterable[PricedLine], tax_rate_bp: int) -> Totals:
    """Per-kind nets summed, tax once per group at the tenant's rate."""
    nets: dict[str, int] = dict.fromkeys(LineKind, 0)
    for line in lines:
        nets[line.kind] += line.net
    return totals_of_nets(nets, tax_rate_bp)


def totals_of_nets(nets: Mapping[str, int], tax_rate_bp: int) -> Totals:
    """:func:`totals` from each kind's summed net (keys: the kinds or their values)."""
    return Totals(
        tax_rate_bp=tax_rate_bp,
        one_off=group(nets[LineKind.ONE_OFF], tax_rate_bp),
        monthly=group(nets[LineKind.MONTHLY], tax_rate_bp),
        usage_estimate=group(nets[LineKind.USAGE], tax_rate_bp),
    )
