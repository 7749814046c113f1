"""Quote arithmetic: examples worked by hand, and the laws hypothesis checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pricing.quotes.arithmetic import (
    DISCOUNT_SCALE,
    QUANTITY_SCALE,
    LineKind,
    PricedLine,
    line_net,
    line_net_scaled,
    round_half_up,
    tax_of,
    totals,
)


class TestByHand:
    def test_round_half_up_rounds_halves_away_from_zero(self) -> None:
        assert [round_half_up(Decimal(x)) for x in ("0.5", "1.5", "2.5", "2.49", "-2.5")] == [
            1,
            2,
            3,
            2,
            -3,
        ]

    def test_line_net_quantity_times_price(self) -> None:
        assert line_net(Decimal(3), 250_000) == 750_000

    def test_line_net_fractional_minutes_round_half_up_per_line(self) -> None:
        # 12.5 minutes at 9.99 ₽ = 124.875 ₽ → 12 487.5 kopecks → 12 488
        assert line_net(Decimal("12.5"), 999) == 12_488

    def test_line_net_with_discount(self) -> None:
        # 55 000 ₽ less 5 % = 52 250 ₽
        assert line_net(Decimal(1), 5_500_000, Decimal(5)) == 5_225_000

    def test_line_net_with_fractional_discount_rounds_once(self) -> None:
        # 3 x 333 kopecks x 0.875 = 874.125 → 874
        assert line_net(Decimal(3), 333, Decimal("12.5")) == 874

    def test_full_discount_is_zero(self) -> None:
        assert line_net(Decimal(7), 123_456, Decimal(100)) == 0

    def test_tax_of_twenty_percent(self) -> None:
        assert tax_of(6_260_000, 2000) == 1_252_000

    def test_tax_rounds_half_up(self) -> None:
        # 1 234 567 x 22 % = 271 604.74 → 271 605
        assert tax_of(1_234_567, 2200) == 271_605
        # 25 x 2 % = 0.5 → 1
        assert tax_of(25, 200) == 1

    def test_reference_retail_quote(self) -> None:
        lines = [
            PricedLine(LineKind.ONE_OFF, line_net(Decimal(1), 2_000_000)),
            PricedLine(LineKind.ONE_OFF, line_net(Decimal(1), 1_000_000)),
            PricedLine(LineKind.ONE_OFF, line_net(Decimal(6), 250_000)),
            PricedLine(LineKind.ONE_OFF, line_net(Decimal(1), 1_760_000)),
            PricedLine(LineKind.USAGE, line_net(Decimal(3000), 1_200)),
        ]
        t = totals(lines, 2000)
        assert (t.one_off.net, t.one_off.tax, t.one_off.gross) == (6_260_000, 1_252_000, 7_512_000)
        assert t.monthly.gross == 0
        assert t.usage_estimate.net == 3_600_000

    def test_reference_windows_quote(self) -> None:
        lines = [
            PricedLine(LineKind.MONTHLY, line_net(Decimal(1), 1_250_000, Decimal(5))),
            PricedLine(LineKind.MONTHLY, line_net(Decimal(1), 5_500_000, Decimal(5))),
        ]
        t = totals(lines, 2000)
        assert (t.monthly.net, t.monthly.tax, t.monthly.gross) == (6_412_500, 1_282_500, 7_695_000)

    @pytest.mark.parametrize(
        ("quantity", "price", "discount"),
        [
            (Decimal(-1), 100, Decimal(0)),
            (Decimal(1), -1, Decimal(0)),
            (Decimal(1), 1, Decimal(101)),
        ],
    )
    def test_out_of_range_inputs_are_refused(
        self, quantity: Decimal, price: int, discount: Decimal
    ) -> None:
        with pytest.raises(ValueError):
            line_net(quantity, price, discount)


quantities = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False)
prices = st.integers(min_value=0, max_value=10**10)
discounts = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
rates = st.integers(min_value=0, max_value=10_000)
kinds = st.sampled_from(list(LineKind))
lines_st = st.lists(st.tuples(kinds, quantities, prices, discounts), max_size=60)


class TestLaws:
    @given(lines_st, rates)
    def test_totals_equal_the_sum_of_their_lines(self, lines, rate) -> None:
        priced = [PricedLine(k, line_net(q, p, d)) for k, q, p, d in lines]
        t = totals(priced, rate)
        for kind, amounts in (
            (LineKind.ONE_OFF, t.one_off),
            (LineKind.MONTHLY, t.monthly),
            (LineKind.USAGE, t.usage_estimate),
        ):
            net = sum(x.net for x in priced if x.kind is kind)
            assert amounts.net == net
            assert amounts.gross == net + tax_of(net, rate)
            assert amounts.tax == tax_of(net, rate)

    @given(quantities, prices, discounts)
    def test_a_discount_never_makes_a_line_negative(self, q, p, d) -> None:
        net = line_net(q, p, d)
        assert 0 <= net <= line_net(q, p)

    @given(quantities, prices, discounts, discounts)
    def test_a_bigger_discount_never_costs_more(self, q, p, d1, d2) -> None:
        low, high = sorted((d1, d2))
        assert line_net(q, p, high) <= line_net(q, p, low)

    @given(lines_st, rates)
    def test_recomputing_gives_the_same_totals(self, lines, rate) -> None:
        first = totals([PricedLine(k, line_net(q, p, d)) for k, q, p, d in lines], rate)
        again = totals([PricedLine(k, line_net(q, p, d)) for k, q, p, d in reversed(lines)], rate)
        assert first == again

    @given(quantities, prices, discounts)
    def test_line_net_is_within_half_a_minor_unit_of_exact(self, q, p, d) -> None:
        exact = q * p * (100 - d) / 100
        assert abs(Decimal(line_net(q, p, d)) - exact) <= Decimal("0.5")

    @given(quantities, prices, discounts)
    def test_whole_number_line_net_equals_the_decimal_one(self, q, p, d) -> None:
        scaled = line_net_scaled(int(q * QUANTITY_SCALE), p, int(d * DISCOUNT_SCALE))
        assert scaled == line_net(q, p, d)
