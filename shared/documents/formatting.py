# ruff: noqa: RUF001, RUF002  (Russian text: Cyrillic letters are meant)
"""Russian formatting for documents: ``75 120,00 ₽``, ``1 500,5``, ``1 октября 2026 г.``.

Thousands are grouped with U+202F (narrow no-break space), decimals follow a comma.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

NNBSP = "\u202f"
"""Narrow no-break space: the thousands separator of Russian amounts."""
CURRENCY_SIGNS = {"RUB": "₽", "EUR": "€", "USD": "$", "KZT": "₸"}
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
"""Month names in the genitive, as a date is read: ``1 октября``."""
UNIT_NAMES = {
    "piece": "шт.",
    "hour": "ч",
    "minute": "мин",
    "attempt": "попытка",
    "lead": "лид",
    "deal": "сделка",
    "month": "мес.",
}
"""Short Russian names of the units of rate-card and invoice lines."""


def format_money(minor: int, currency: str = "RUB") -> str:
    """``7512000`` → ``75 120,00 ₽`` (narrow no-break spaces, decimal comma)."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    grouped = f"{units:,}".replace(",", NNBSP)
    symbol = CURRENCY_SIGNS.get(currency, currency)
    return f"{sign}{grouped},{cents:02d}{NNBSP}{symbol}"


def format_quantity(value: Decimal) -> str:
    """``Decimal('1500.5000')`` → ``1 500,5``."""
    normal = value.normalize()
    text = f"{normal:f}"
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", NNBSP)
    return f"{grouped},{frac}" if frac else grouped


def format_percent(value: Decimal) -> str:
    """``Decimal('2.5')`` → ``2,5 %``."""
    return format_quantity(value) + NNBSP + "%"


def format_date(day: date) -> str:
    """``date(2026, 10, 1)`` → ``1 октября 2026 г.``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year} г."


def format_rate(tax_rate_bp: int) -> str:
    """A tax rate in basis points: ``2000`` → ``20 %``."""
    return format_percent(Decimal(tax_rate_bp) / 100)


def format_unit(unit: str) -> str:
    """The Russian short name of a line's unit (the code itself when unknown)."""
    return UNIT_NAMES.get(unit, unit)
