# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""Composing one tenant's invoice for a period: a pure function, no I/O.

Input: the tenant's facts (currency, tax rate, the last closed period), its plans
(local start and end dates, monthly fees, usage rates), its usage totals grouped by
project, plan, metric and month, and its pending one-off fees. Output: the lines and
totals of the invoice, or ``None`` when there is nothing to bill.

- One-off fees: each pending fee once, at its amount.
- Monthly fees: for every month not yet closed up to the period (normally just the
  period), each plan's fee pro-rated by the days its plan was in force that month:
  ``round_half_up(fee * active_days / days_in_month)``; the rule is on the line.
- Usage: ``quantity * rate`` (less the rate's discount), half-up per line; a metric
  with no rate in the plan is shown at zero; usage whose month had already closed
  when it arrived says so on its line.
- Tax once on the subtotal; ``total = subtotal + tax``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.billing.invoices.models import LineKind
from services.billing.invoices.money import (
    days_in_month,
    next_month,
    prorate,
    split_total,
    usage_amount,
)

MONTHS_NOMINATIVE = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def month_label(month: date) -> str:
    """``date(2026, 11, 1)`` → ``ноябрь 2026``."""
    return f"{MONTHS_NOMINATIVE[month.month - 1]} {month.year}"


def days_of(count: int) -> str:
    """``"31 дня"``, ``"30 дней"``: the genitive after ``из``."""
    word = "дня" if count % 10 == 1 and count % 100 != 11 else "дней"
    return f"{count} {word}"


def day_label(day: date) -> str:
    return f"{day.day} {MONTHS_GENITIVE[day.month - 1]}"


@dataclass(frozen=True, slots=True)
class Fee:
    code: str
    name: str
    amount: int
    """Net per whole month, minor units."""


@dataclass(frozen=True, slots=True)
class Rate:
    code: str
    name: str
    unit: str
    unit_price: int
    discount_pct: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PlanFacts:
    id: uuid.UUID
    project_id: uuid.UUID
    start: date
    """First local day in force."""
    end: date | None
    """First local day no longer in force (``None``: open)."""
    monthly_fees: tuple[Fee, ...] = ()
    usage_rates: tuple[Rate, ...] = ()

    def active_days(self, month: date) -> int:
        first = max(self.start, month)
        stop = next_month(month) if self.end is None else min(self.end, next_month(month))
        return max((stop - first).days, 0)


@dataclass(frozen=True, slots=True)
class UsageTotal:
    project_id: uuid.UUID
    plan_id: uuid.UUID | None
    metric: str
    usage_month: date
    late: bool
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class PendingFee:
    id: uuid.UUID
    project_id: uuid.UUID
    code: str
    name: str
    unit: str
    quantity: Decimal
    unit_price: int
    amount: int


@dataclass(frozen=True, slots=True)
class TenantFacts:
    tenant_id: uuid.UUID
    currency: str
    tax_rate_bp: int
    closed_through: date | None


@dataclass(frozen=True, slots=True)
class DraftLine:
    kind: LineKind
    project_id: uuid.UUID | None
    code: str
    description: str
    unit: str
    quantity: Decimal
    unit_price: int
    amount: int
    note: str | None = None
    service_month: date | None = None
    active_days: int | None = None
    days_in_month: int | None = None
    late: bool = False


@dataclass(frozen=True, slots=True)
class DraftInvoice:
    tenant_id: uuid.UUID
    currency: str
    tax_rate_bp: int
    period_start: date
    period_end: date
    lines: tuple[DraftLine, ...]
    subtotal: int
    tax: int
    total: int
    one_off_fee_ids: tuple[uuid.UUID, ...] = field(default=())


def period_end(period_start: date) -> date:
    """The last day of the month starting at ``period_start``."""
    return date.fromordinal(next_month(period_start).toordinal() - 1)


def months_to_charge(
    period: date, closed_through: date | None, plans: Sequence[PlanFacts]
) -> list[date]:
    """Months whose monthly fees this close charges: those after the last closed one up to
    ``period`` (from the first plan's month for a tenant never closed)."""
    if closed_through is not None:
        first = next_month(closed_through)
    elif plans:
        first = min(p.start for p in plans).replace(day=1)
    else:
        return []
    months = []
    month = first
    while month <= period:
        months.append(month)
        month = next_month(month)
    return months


def _monthly_lines(
    period: date, closed_through: date | None, plans: Sequence[PlanFacts]
) -> list[DraftLine]:
    lines = []
    for month in months_to_charge(period, closed_through, plans):
        dim = days_in_month(month)
        for plan in sorted(plans, key=lambda p: (str(p.project_id), p.start)):
            days = plan.active_days(month)
            if days == 0:
                continue
            note = None
            if days < dim:
                first = max(plan.start, month)
                last = date.fromordinal(first.toordinal() + days - 1)
                note = (
                    f"{days} из {days_of(dim)} (с {day_label(first)} по {day_label(last)}): "
                    f"оплата пропорционально дням действия тарифа"
                )
            for fee in plan.monthly_fees:
                lines.append(
                    DraftLine(
                        kind=LineKind.MONTHLY,
                        project_id=plan.project_id,
                        code=fee.code,
                        description=f"{fee.name}, {month_label(month)}",
                        unit="month",
                        quantity=Decimal(1),
                        unit_price=fee.amount,
                        amount=prorate(fee.amount, days, dim),
                        note=note,
                        service_month=month,
                        active_days=days,
                        days_in_month=dim,
                    )
                )
    return lines


def _usage_lines(
    period: date, usage: Sequence[UsageTotal], plans: Sequence[PlanFacts]
) -> list[DraftLine]:
    rates = {p.id: {r.code: r for r in p.usage_rates} for p in plans}
    lines = []
    ordered = sorted(
        usage, key=lambda u: (str(u.project_id), u.usage_month, u.metric, str(u.plan_id))
    )
    for u in ordered:
        rate = rates.get(u.plan_id, {}).get(u.metric) if u.plan_id else None
        notes = []
        if u.late:
            notes.append(
                f"Объём за {month_label(u.usage_month)}, учтён после закрытия того периода"
            )
        elif u.usage_month != period:
            notes.append(f"Объём за {month_label(u.usage_month)}")
        if rate is None:
            notes.append("нет тарифа в плане проекта: не оплачивается")
        lines.append(
            DraftLine(
                kind=LineKind.USAGE,
                project_id=u.project_id,
                code=u.metric,
                description=rate.name if rate else u.metric,
                unit=rate.unit if rate else "piece",
                quantity=u.quantity,
                unit_price=rate.unit_price if rate else 0,
                amount=usage_amount(u.quantity, rate.unit_price, rate.discount_pct) if rate else 0,
                note="; ".join(notes) or None,
                service_month=u.usage_month,
                late=u.late,
            )
        )
    return lines


def compose(
    tenant: TenantFacts,
    period: date,
    *,
    plans: Sequence[PlanFacts] = (),
    usage: Sequence[UsageTotal] = (),
    one_off_fees: Sequence[PendingFee] = (),
) -> DraftInvoice | None:
    """The invoice closing ``period`` for ``tenant``, or ``None`` with nothing to bill."""
    lines: list[DraftLine] = [
        DraftLine(
            kind=LineKind.ONE_OFF,
            project_id=f.project_id,
            code=f.code,
            description=f.name,
            unit=f.unit,
            quantity=f.quantity,
            unit_price=f.unit_price,
            amount=f.amount,
        )
        for f in sorted(one_off_fees, key=lambda f: (str(f.project_id), str(f.id)))
    ]
    lines.extend(_monthly_lines(period, tenant.closed_through, plans))
    lines.extend(_usage_lines(period, usage, plans))
    if not any(line.amount > 0 for line in lines):
        return None
    subtotal, tax, total = split_total((line.amount for line in lines), tenant.tax_rate_bp)
    return DraftInvoice(
        tenant_id=tenant.tenant_id,
        currency=tenant.currency,
        tax_rate_bp=tenant.tax_rate_bp,
        period_start=period,
        period_end=period_end(period),
        lines=tuple(lines),
        subtotal=subtotal,
        tax=tax,
        total=total,
        one_off_fee_ids=tuple(f.id for f in one_off_fees),
    )
