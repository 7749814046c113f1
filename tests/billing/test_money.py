"""Money laws, by property: totals add up, a whole month is the fee, no floats."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.invoices.money import (
    days_in_month,
    prorate,
    split_total,
    tax_of,
    usage_amount,
)
from services.billing.runs.compose import (
    Fee,
    PendingFee,
    PlanFacts,
    Rate,
    TenantFacts,
    UsageTotal,
    compose,
)

amounts = st.integers(min_value=0, max_value=10**12)
rates_bp = st.integers(min_value=0, max_value=10_000)
months = st.builds(
    date,
    st.integers(min_value=2000, max_value=2100),
    st.integers(min_value=1, max_value=12),
    st.just(1),
)
quantities = st.decimals(
    min_value=Decimal(0), max_value=Decimal(10**6), places=4, allow_nan=False, allow_infinity=False
)


@given(fee=amounts, month=months)
def test_a_whole_month_is_exactly_the_fee(fee: int, month: date) -> None:
    dim = days_in_month(month)
    assert prorate(fee, dim, dim) == fee
    plan = PlanFacts(
        id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        start=month - timedelta(days=3),
        end=None,
        monthly_fees=(Fee("monthly_fee", "Абонентская плата", fee),),
    )
    previous = (month - timedelta(days=1)).replace(day=1)
    facts = TenantFacts(uuid.uuid4(), "RUB", 0, closed_through=previous)
    invoice = compose(facts, month, plans=[plan])
    if fee:
        assert invoice is not None
        assert [line.amount for line in invoice.lines] == [fee]


@given(fee=amounts, month=months, data=st.data())
def test_pro_rating_is_monotonic_and_bounded(fee: int, month: date, data: st.DataObject) -> None:
    dim = days_in_month(month)
    days = data.draw(st.integers(min_value=0, max_value=dim))
    part = prorate(fee, days, dim)
    assert type(part) is int
    assert 0 <= part <= fee
    assert abs(part * dim - fee * days) * 2 <= dim  # within half a minor unit
    if days < dim:
        assert part <= prorate(fee, days + 1, dim)


@given(net=amounts, rate=rates_bp)
def test_tax_is_half_up_of_the_exact_value(net: int, rate: int) -> None:
    tax = tax_of(net, rate)
    assert type(tax) is int
    assert abs(tax * 10_000 - net * rate) * 2 <= 10_000
    if (net * rate) % 10_000 * 2 == 10_000:
        assert tax * 10_000 > net * rate  # halves go up


@given(quantity=quantities, price=st.integers(min_value=0, max_value=10**7))
def test_usage_amount_is_an_int_rounded_once(quantity: Decimal, price: int) -> None:
    amount = usage_amount(quantity, price)
    assert type(amount) is int
    assert abs(Decimal(amount) - quantity * price) <= Decimal("0.5")


@settings(max_examples=200)
@given(
    tax_rate=rates_bp,
    fees=st.lists(amounts, max_size=4),
    monthly=st.lists(amounts, max_size=3),
    usage=st.lists(st.tuples(quantities, st.integers(min_value=0, max_value=10**6)), max_size=5),
    start_day=st.integers(min_value=1, max_value=28),
)
def test_an_invoice_total_is_its_lines_plus_tax(
    tax_rate: int,
    fees: list[int],
    monthly: list[int],
    usage: list[tuple[Decimal, int]],
    start_day: int,
) -> None:
    period = date(2026, 11, 1)
    project = uuid.uuid4()
    plan = PlanFacts(
        id=uuid.uuid4(),
        project_id=project,
        start=date(2026, 11, start_day),
        end=None,
        monthly_fees=tuple(Fee(f"m{i}", f"fee {i}", a) for i, a in enumerate(monthly)),
        usage_rates=tuple(Rate(f"u{i}", f"rate {i}", "piece", p) for i, (_, p) in enumerate(usage)),
    )
    totals = [
        UsageTotal(project, plan.id, f"u{i}", period, False, q) for i, (q, _) in enumerate(usage)
    ]
    pending = [
        PendingFee(uuid.uuid4(), project, f"o{i}", f"one-off {i}", "piece", Decimal(1), a, a)
        for i, a in enumerate(fees)
    ]
    invoice = compose(
        TenantFacts(uuid.uuid4(), "RUB", tax_rate, closed_through=date(2026, 10, 1)),
        period,
        plans=[plan],
        usage=totals,
        one_off_fees=pending,
    )
    if invoice is None:
        return
    line_sum = sum(line.amount for line in invoice.lines)
    assert invoice.subtotal == line_sum
    assert invoice.tax == tax_of(line_sum, tax_rate)
    assert invoice.total == invoice.subtotal + invoice.tax
    assert (invoice.subtotal, invoice.tax, invoice.total) == split_total(
        (line.amount for line in invoice.lines), tax_rate
    )
    money = [invoice.subtotal, invoice.tax, invoice.total]
    money += [x for line in invoice.lines for x in (line.amount, line.unit_price)]
    assert all(type(x) is int for x in money)
