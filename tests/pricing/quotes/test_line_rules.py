"""The rules one quote line is checked by (``pricing.price_line``), without I/O: what
each mistake is called, and that a line out of range is not looked at further."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal, localcontext

from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.pricing import price_line
from services.pricing.quotes.schemas import QuoteLineInput, QuoteLineOut
from services.pricing.rate_card.repository import CurrentPrice
from shared.errors import FieldError

SETUP = CurrentPrice(
    id=uuid.uuid4(),
    code="setup",
    currency="RUB",
    version=3,
    name="Настройка",
    description=None,
    unit="piece",
    kind="one_off",
    unit_price=500_000,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
)


def _price(line: QuoteLineInput) -> tuple[QuoteLineOut | None, set[tuple[str, str]]]:
    errors: list[FieldError] = []
    with localcontext() as context:
        context.prec = 60
        out = price_line(2, line, "RUB", {"setup": SETUP}, {}, {}, errors)
    return out, {(e.field, e.code) for e in errors}


def test_a_card_line_copies_the_items_price_and_version() -> None:
    out, errors = _price(QuoteLineInput(rate_code="setup", quantity=Decimal(2)))
    assert errors == set()
    assert out is not None
    assert (out.position, out.rate_card_version, out.list_unit_price) == (3, 3, 500_000)
    assert (out.unit_price, out.net, out.kind) == (500_000, 1_000_000, LineKind.ONE_OFF)


def test_an_override_keeps_the_list_price_and_its_reason() -> None:
    line = QuoteLineInput(rate_code="setup", unit_price_override=400_000, override_reason="x")
    out, errors = _price(line)
    assert errors == set()
    assert out is not None
    assert (out.unit_price, out.list_unit_price, out.override_reason) == (400_000, 500_000, "x")


def test_too_precise_amounts_are_named_each() -> None:
    line = QuoteLineInput(
        rate_code="setup", quantity=Decimal("1.00001"), discount_pct=Decimal("1.001")
    )
    _, errors = _price(line)
    assert errors == {
        ("lines[2].quantity", "too_precise"),
        ("lines[2].discount_pct", "too_precise"),
    }


def test_an_out_of_range_quantity_stops_the_line() -> None:
    line = QuoteLineInput(rate_code="nothing", quantity=Decimal(-1), discount_pct=Decimal(101))
    out, errors = _price(line)
    assert out is None
    assert errors == {("lines[2].quantity", "out_of_range")}


def test_an_out_of_range_discount_stops_the_line() -> None:
    out, errors = _price(QuoteLineInput(rate_code="nothing", discount_pct=Decimal(101)))
    assert out is None
    assert errors == {("lines[2].discount_pct", "out_of_range")}


def test_a_reason_without_an_override_is_refused() -> None:
    _, errors = _price(QuoteLineInput(rate_code="setup", override_reason="why"))
    assert errors == {("lines[2].override_reason", "without_override")}


def test_a_card_line_refuses_a_fixed_amount_and_another_kind() -> None:
    line = QuoteLineInput(rate_code="setup", fixed_amount=1, kind=LineKind.MONTHLY)
    _, errors = _price(line)
    assert errors == {("lines[2].fixed_amount", "not_allowed"), ("lines[2].kind", "kind_mismatch")}


def test_a_fixed_line_refuses_a_price_override() -> None:
    line = QuoteLineInput(
        name="Отчёт", kind=LineKind.MONTHLY, fixed_amount=10_000, unit_price_override=1
    )
    out, errors = _price(line)
    assert out is not None  # priced, but the quote as a whole is refused
    assert errors == {("lines[2].unit_price_override", "not_allowed")}


def test_a_fixed_line_takes_its_own_price_and_the_kinds_unit() -> None:
    line = QuoteLineInput(name="Отчёт", kind=LineKind.MONTHLY, fixed_amount=10_000)
    out, errors = _price(line)
    assert errors == set()
    assert out is not None
    assert (out.rate_code, out.rate_card_item_id, out.unit, out.net) == (
        None,
        None,
        "month",
        10_000,
    )
