"""Funnel arithmetic: pure functions over :class:`~decimal.Decimal`, no I/O.

The rules (the planner's whole model; also in its OpenAPI description):

- The funnel runs lead → contact → qualified → deal with conversion rates
  ``c1, c2, c3`` in (0, 1]. Counts of people are whole and rounded *up* at each
  stage, from the goal backwards: ``qualified = ⌈deals / c3⌉``,
  ``contacts = ⌈qualified / c2⌉``, ``leads = ⌈contacts / c1⌉``. So
  ``leads * c1 * c2 * c3 ≥ deals`` always, and a bigger goal never needs fewer leads.
- ``attempts = ⌈leads * attempts_per_lead⌉`` (every dial, answered or not).
- ``talk_minutes = contacts * talk_minutes_per_contact`` (only a reached lead talks),
  to the hundredth, half-up.
- Operator time is talk plus handling (dialling, ringing, wrap-up) per attempt, at an
  occupancy below 100 %: ``operator_hours = (talk_minutes + attempts * handling) / 60
  / occupancy``, rounded *up* to the hundredth; ``operators = ⌈operator_hours /
  hours_per_operator⌉`` (a month's productive hours of one full-time operator).
- Money: each priced line is ``round_half_up(quantity * unit_price)`` in minor units,
  once per line; the total is the sum of the lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext

ONE = Decimal(1)
CENT = Decimal("0.01")
SIXTY = Decimal(60)

USAGE_CODES = ("attempt", "talk_minute", "qualified_lead", "won_deal", "operator_hour")
"""Rate-card codes a plan can be priced with, each paired with one planned volume."""


@dataclass(frozen=True, slots=True)
class Conversion:
    lead_to_contact: Decimal
    contact_to_qualified: Decimal
    qualified_to_deal: Decimal

    @property
    def lead_to_deal(self) -> Decimal:
        return self.lead_to_contact * self.contact_to_qualified * self.qualified_to_deal


@dataclass(frozen=True, slots=True)
class Assumptions:
    conversion: Conversion
    attempts_per_lead: Decimal
    talk_minutes_per_contact: Decimal
    handling_minutes_per_attempt: Decimal = ONE
    occupancy: Decimal = Decimal("0.8")
    hours_per_operator: Decimal = Decimal(160)


@dataclass(frozen=True, slots=True)
class Volumes:
    deals: int
    qualified_leads: int
    contacts: int
    leads: int
    attempts: int
    talk_minutes: Decimal
    operator_hours: Decimal
    operators: int


@dataclass(frozen=True, slots=True)
class Ratios:
    """The client's first questions, from the rates alone (before rounding counts)."""

    leads_per_deal: Decimal
    attempts_per_lead: Decimal
    attempts_per_contact: Decimal
    attempts_per_qualified_lead: Decimal
    attempts_per_deal: Decimal


@dataclass(frozen=True, slots=True)
class PricedLine:
    rate_code: str
    quantity: Decimal
    unit_price: int
    amount: int


KIND_ASSUMPTIONS: dict[str, Assumptions] = {
    "inbound": Assumptions(
        Conversion(Decimal("0.9"), Decimal("0.5"), Decimal("0.3")), Decimal("1.5"), Decimal(5)
    ),
    "outbound_first_call": Assumptions(
        Conversion(Decimal("0.6"), Decimal("0.4"), Decimal("0.2")), Decimal(3), Decimal(4)
    ),
    "active_sales": Assumptions(
        Conversion(Decimal("0.5"), Decimal("0.35"), Decimal("0.15")), Decimal(4), Decimal(7)
    ),
    "repeat_touch": Assumptions(
        Conversion(Decimal("0.55"), Decimal("0.3"), Decimal("0.2")), Decimal("2.5"), Decimal(3)
    ),
    "post_event": Assumptions(
        Conversion(Decimal("0.65"), Decimal("0.4"), Decimal("0.25")), Decimal("2.5"), Decimal(4)
    ),
}
"""Industry-typical starting points per project kind, until a project has its own history."""


def ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def volumes(deals: int, a: Assumptions) -> Volumes:
    """What ``deals`` a month needs under ``a`` (see the module rules)."""
    if deals < 0:
        raise ValueError("deals must not be negative")
    c = a.conversion
    with localcontext(prec=50):
        qualified = ceil_int(Decimal(deals) / c.qualified_to_deal)
        contacts = ceil_int(Decimal(qualified) / c.contact_to_qualified)
        leads = ceil_int(Decimal(contacts) / c.lead_to_contact)
        attempts = ceil_int(Decimal(leads) * a.attempts_per_lead)
        talk = (Decimal(contacts) * a.talk_minutes_per_contact).quantize(CENT, ROUND_HALF_UP)
        busy = talk + Decimal(attempts) * a.handling_minutes_per_attempt
        hours = (busy / SIXTY / a.occupancy).quantize(CENT, ROUND_CEILING)
        operators = ceil_int(hours / a.hours_per_operator)
    return Volumes(
        deals=deals,
        qualified_leads=qualified,
        contacts=contacts,
        leads=leads,
        attempts=attempts,
        talk_minutes=talk,
        operator_hours=hours,
        operators=operators,
    )


def ratios(a: Assumptions) -> Ratios:
    c = a.conversion
    with localcontext(prec=50):
        leads_per_deal = ONE / c.lead_to_deal
        per_contact = a.attempts_per_lead / c.lead_to_contact
        per_qualified = per_contact / c.contact_to_qualified
        per_deal = a.attempts_per_lead * leads_per_deal
    return Ratios(
        leads_per_deal=leads_per_deal.quantize(CENT, ROUND_HALF_UP),
        attempts_per_lead=a.attempts_per_lead.quantize(CENT, ROUND_HALF_UP),
        attempts_per_contact=per_contact.quantize(CENT, ROUND_HALF_UP),
        attempts_per_qualified_lead=per_qualified.quantize(CENT, ROUND_HALF_UP),
        attempts_per_deal=per_deal.quantize(CENT, ROUND_HALF_UP),
    )


def usage_quantity(rate_code: str, v: Volumes) -> Decimal:
    """The planned monthly volume a usage rate-card code is billed on."""
    quantities = {
        "attempt": Decimal(v.attempts),
        "talk_minute": v.talk_minutes,
        "qualified_lead": Decimal(v.qualified_leads),
        "won_deal": Decimal(v.deals),
        "operator_hour": v.operator_hours,
    }
    try:
        return quantities[rate_code]
    except KeyError:
        raise ValueError(f"{rate_code!r} is not a usage code the planner knows") from None


def line_amount(quantity: Decimal, unit_price: int) -> int:
    """``round_half_up(quantity * unit_price)`` in minor units."""
    with localcontext(prec=50):
        return int((quantity * Decimal(unit_price)).quantize(ONE, ROUND_HALF_UP))


def price(v: Volumes, unit_prices: dict[str, int], rate_codes: list[str]) -> list[PricedLine]:
    """One line per code in ``rate_codes``, priced at ``unit_prices[code]``."""
    lines = []
    for code in rate_codes:
        quantity = usage_quantity(code, v)
        unit_price = unit_prices[code]
        lines.append(PricedLine(code, quantity, unit_price, line_amount(quantity, unit_price)))
    return lines
