"""Pure onboarding rules: INN check digits, slugs, currencies, time zones, lifecycle.

No I/O here, so these are tested fast and exactly (``tests/onboarding/test_rules.py``).
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as ru_inn

from services.onboarding.tenants.models import TenantStatus
from shared.errors import FieldError

ISO_CURRENCIES = frozenset(
    {
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    }
)
"""ISO 4217 codes in current use as legal tender (CLDR territory data, Nov 2026)."""

DEFAULT_CURRENCY = "RUB"
DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_TAX_RATE_BP = {"RUB": 2200}
"""Default tax (VAT) rate per currency, in basis points, when the request gives none.

RUB: 22 %, the Russian standard VAT rate from 2026-01-01 (it was 20 % before). Any
other currency defaults to 0: a foreign client's VAT depends on its jurisdiction, so
the account manager must state it rather than inherit a Russian rate.
"""

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o",
            "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e",
            "yu", "ya",
        ],
        strict=True,
    )
)  # fmt: skip
SLUG_MAX = 63
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

# Lifecycle: verb -> (allowed from-states, to-state).
TRANSITIONS: dict[str, tuple[frozenset[TenantStatus], TenantStatus]] = {
    "activate": (frozenset({TenantStatus.PENDING}), TenantStatus.ACTIVE),
    "suspend": (frozenset({TenantStatus.ACTIVE}), TenantStatus.SUSPENDED),
    "resume": (frozenset({TenantStatus.SUSPENDED}), TenantStatus.ACTIVE),
    "close": (
        frozenset({TenantStatus.PENDING, TenantStatus.ACTIVE, TenantStatus.SUSPENDED}),
        TenantStatus.CLOSED,
    ),
}


def inn_error(value: str, field: str = "inn") -> FieldError | None:
    """``None`` for a valid Russian INN (10 digits for companies, 12 for individuals)."""
    try:
        ru_inn.validate(value)
    except StdnumError as exc:
        return FieldError(field, "invalid_inn", f"not a valid INN: {exc}")
    if ru_inn.compact(value) != value:
        return FieldError(field, "invalid_inn", "an INN is 10 or 12 digits, nothing else")
    return None


def inn_with_check_digits(first_nine: str) -> str:
    """A 10-digit company INN from its first nine digits (for seeds and tests)."""
    return first_nine + ru_inn.calc_company_check_digit(first_nine)


def currency_error(value: str, field: str = "currency") -> FieldError | None:
    if value in ISO_CURRENCIES:
        return None
    return FieldError(field, "invalid_currency", "not an ISO 4217 currency code in use")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_error(value: str, field: str = "timezone") -> FieldError | None:
    if value in _zones():
        return None
    return FieldError(field, "invalid_timezone", "not an IANA time zone (e.g. Europe/Moscow)")


def default_tax_rate_bp(currency: str) -> int:
    return DEFAULT_TAX_RATE_BP.get(currency, 0)


def slugify(name: str) -> str:
    """``"Ромашка Ритейл"`` → ``"romashka-riteyl"``: transliterated, lower-case, dashed."""
    out: list[str] = []
    for ch in name.lower():
        out.append(_TRANSLIT.get(ch, ch))
    slug = re.sub(r"[^a-z0-9]+", "-", "".join(out)).strip("-")
    slug = slug[:SLUG_MAX].rstrip("-")
    return slug or "tenant"


def with_suffix(slug: str, n: int) -> str:
    """The ``n``-th alternative of a taken slug: ``acme-2``, ``acme-3`` …"""
    suffix = f"-{n}"
    return slug[: SLUG_MAX - len(suffix)].rstrip("-") + suffix


def transition(verb: str, current: TenantStatus) -> TenantStatus | None:
    """The new status for ``verb`` from ``current``, or ``None`` when illegal."""
    allowed, target = TRANSITIONS[verb]
    return target if current in allowed else None
