"""Funnel arithmetic, pure: worked examples by hand and the laws it must keep."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pricing.planner.math import (
    KIND_ASSUMPTIONS,
    Assumptions,
    Conversion,
    line_amount,
    price,
    ratios,
    volumes,
)

D = Decimal

EXAMPLE = Assumptions(
    conversion=Conversion(D("0.5"), D("0.4"), D("0.25")),
    attempts_per_lead=D(3),
    talk_minutes_per_contact=D(4),
    handling_minutes_per_attempt=D(1),
    occupancy=D("0.8"),
    hours_per_operator=D(160),
)


class TestWorkedExample:
    def test_ten_deals(self) -> None:
        v = volumes(10, EXAMPLE)
        # 10 / 0.25 = 40 qualified; 40 / 0.4 = 100 contacts; 100 / 0.5 = 200 leads
        assert (v.deals, v.qualified_leads, v.contacts, v.leads) == (10, 40, 100, 200)
        assert v.attempts == 600  # 200 leads * 3
        assert v.talk_minutes == D("400.00")  # 100 contacts * 4 min
        # (400 talk + 600 attempts * 1 min) / 60 / 0.8 = 20.8333.. -> up to 20.84
        assert v.operator_hours == D("20.84")
        assert v.operators == 1

    def test_ratios(self) -> None:
        r = ratios(EXAMPLE)
        assert r.leads_per_deal == D("20.00")  # 1 / (0.5 * 0.4 * 0.25)
        assert r.attempts_per_lead == D("3.00")  # calls per lead, as assumed
        assert r.attempts_per_contact == D("6.00")  # 3 / 0.5
        assert r.attempts_per_qualified_lead == D("15.00")  # 6 / 0.4
        assert r.attempts_per_deal == D("60.00")  # 3 * 20

    def test_every_stage_rounds_up(self) -> None:
        a = KIND_ASSUMPTIONS["outbound_first_call"]  # 0.6 / 0.4 / 0.2, 3 attempts, 4 min
        v = volumes(3, a)
        # 3 / 0.2 = 15; 15 / 0.4 = 37.5 -> 38; 38 / 0.6 = 63.3 -> 64; 64 * 3 = 192
        assert (v.qualified_leads, v.contacts, v.leads, v.attempts) == (15, 38, 64, 192)
        assert v.talk_minutes == D("152.00")
        assert v.operator_hours == D("7.17")  # (152 + 192) / 60 / 0.8 = 7.1666..

    def test_priced_lines_round_half_up_per_line(self) -> None:
        v = volumes(10, EXAMPLE)
        lines = price(
            v,
            {"attempt": 1500, "talk_minute": 1200, "operator_hour": 45_000, "won_deal": 99},
            ["attempt", "talk_minute", "operator_hour", "won_deal"],
        )
        assert [(x.rate_code, x.quantity, x.amount) for x in lines] == [
            ("attempt", D(600), 900_000),
            ("talk_minute", D("400.00"), 480_000),
            ("operator_hour", D("20.84"), 937_800),
            ("won_deal", D(10), 990),
        ]

    @pytest.mark.parametrize(
        ("quantity", "unit_price", "amount"),
        [(D("0.5"), 1, 1), (D("1.5"), 1, 2), (D("23.31"), 1999, 46_597), (D("0.49"), 1, 0)],
    )
    def test_line_amount(self, quantity: Decimal, unit_price: int, amount: int) -> None:
        assert line_amount(quantity, unit_price) == amount


rates = st.decimals(min_value=D("0.01"), max_value=D(1), places=2)
assumptions = st.builds(
    Assumptions,
    conversion=st.builds(Conversion, rates, rates, rates),
    attempts_per_lead=st.decimals(min_value=D(1), max_value=D(20), places=1),
    talk_minutes_per_contact=st.decimals(min_value=D(0), max_value=D(60), places=1),
    handling_minutes_per_attempt=st.decimals(min_value=D(0), max_value=D(5), places=1),
    occupancy=st.decimals(min_value=D("0.1"), max_value=D(1), places=2),
    hours_per_operator=st.decimals(min_value=D(1), max_value=D(200), places=0),
)
goals = st.integers(min_value=0, max_value=100_000)


class TestLaws:
    @given(a=assumptions, goal=goals, more=st.integers(min_value=0, max_value=1_000))
    def test_more_deals_never_need_fewer_of_anything(
        self, a: Assumptions, goal: int, more: int
    ) -> None:
        small, big = volumes(goal, a), volumes(goal + more, a)
        for name in ("qualified_leads", "contacts", "leads", "attempts", "operators"):
            assert getattr(big, name) >= getattr(small, name), name
        assert big.talk_minutes >= small.talk_minutes
        assert big.operator_hours >= small.operator_hours

    @given(a=assumptions, goal=goals)
    def test_leads_times_conversions_reach_the_goal(self, a: Assumptions, goal: int) -> None:
        v = volumes(goal, a)
        c = a.conversion
        assert v.leads * c.lead_to_contact >= v.contacts
        assert v.contacts * c.contact_to_qualified >= v.qualified_leads
        assert v.qualified_leads * c.qualified_to_deal >= goal
        assert v.leads * c.lead_to_contact * c.contact_to_qualified * c.qualified_to_deal >= goal

    @given(a=assumptions, goal=goals)
    def test_counts_are_tight(self, a: Assumptions, goal: int) -> None:
        """One lead fewer at any stage would not reach the next stage's count."""
        v = volumes(goal, a)
        c = a.conversion
        if goal:
            assert (v.qualified_leads - 1) * c.qualified_to_deal < goal
            assert (v.contacts - 1) * c.contact_to_qualified < v.qualified_leads
            assert (v.leads - 1) * c.lead_to_contact < v.contacts

    @given(a=assumptions, goal=goals)
    def test_enough_operators_for_the_hours(self, a: Assumptions, goal: int) -> None:
        v = volumes(goal, a)
        assert v.operators * a.hours_per_operator >= v.operator_hours
        assert v.operator_hours * 60 * a.occupancy >= v.talk_minutes + v.attempts * (
            a.handling_minutes_per_attempt
        )
