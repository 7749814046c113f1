"""Closing a period into invoices: the billing run (and its preview).

One transaction per run:

1. lock the customers whose period is still open (``FOR UPDATE``, in id order) — a
   concurrent run waits, then finds them closed and skips them; usage recorders wait,
   then put late usage in the next period;
2. read, set-based: plans, usage totals (one ``GROUP BY`` pass over the ledger with
   the customers as the hash join's small side; the plan in force is found per group,
   and only groups spanning a change of plan are split row by row), pending one-off
   fees; then move the customers' ``closed_through`` to the period;
3. compose each tenant's invoice in Python (:mod:`services.billing.runs.compose`);
4. write in chunks: invoices (numbered by one locked counter update per chunk, so
   numbers are gapless), lines, billed one-off fees and ``invoice.issued`` events,
   each chunk a few ``INSERT … SELECT FROM unnest`` statements.

A preview runs steps 2 and 3 over the same customers without locking or writing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import InvalidPeriod, PeriodNotEnded
from services.billing.invoices.models import DocumentKind
from services.billing.invoices.money import next_month
from services.billing.invoices.numbering import register, take_numbers
from services.billing.runs import repository
from services.billing.runs.compose import (
    DraftInvoice,
    PendingFee,
    PlanFacts,
    UsageTotal,
    compose,
    period_end,
)
from services.billing.runs.repository import RunTenant
from services.billing.runs.schemas import BillingRun, BillingRunRequest, RunInvoice, RunLine
from shared.audit.log import record
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import FieldError, ValidationFailed
from shared.ids import new_id
from shared.messaging.events import InvoiceIssuedV1, spec_for
from shared.messaging.outbox import PENDING_KEY

PAYMENT_TERMS = timedelta(days=10)
CHUNK = 1000
RUN_WORK_MEM = "64MB"
"""Enough for the usage aggregate to hash in memory (groups, not rows)."""
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ISSUED = spec_for("invoice.issued")


def parse_period(text: str) -> date:
    """``"2026-11"`` → ``date(2026, 11, 1)``; anything else is a 422 on ``period``."""
    match = _PERIOD.match(text or "")
    if not match:
        raise InvalidPeriod([FieldError("period", "invalid_period", "expected YYYY-MM")])
    return date(int(match.group(1)), int(match.group(2)), 1)


def previous_period(now: datetime) -> date:
    """The calendar month before ``now``'s (what the scheduled run closes)."""
    first = now.date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def has_ended(period: date, now: datetime) -> bool:
    """Whether the month ``period`` is over at ``now`` (UTC: the scheduled run closes the
    previous month at 03:00 UTC on the 1st)."""
    return now.date() >= next_month(period)


def require_confirmation(request: BillingRunRequest) -> None:
    """A run that closes the period for every customer must say so (``confirm``): a
    forgotten ``tenant_ids`` must not invoice everyone. A preview writes nothing."""
    if request.tenant_ids is None and not request.preview and not request.confirm:
        raise ValidationFailed.one(
            "confirm",
            "confirmation_required",
            "a run without tenant_ids closes the period for every customer: send"
            ' "confirm": true, or name the tenants in tenant_ids',
        )


def _run_line(line: object) -> RunLine:
    return msgspec.convert(line, RunLine, from_attributes=True)


def _label(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


@dataclass(slots=True)
class _Customers:
    """The customers a run closes, as step 1 found them."""

    tenants: list[RunTenant]
    ids: list[uuid.UUID] | None
    """The tenant filter of the usage read and the audit (``None``: every customer)."""
    already_closed: int


@dataclass(slots=True)
class _Facts:
    """What step 2 read for the customers: plans, usage totals and pending fees per tenant."""

    plans: dict[uuid.UUID, list[PlanFacts]] = field(default_factory=dict)
    usage: dict[uuid.UUID, list[UsageTotal]] = field(default_factory=dict)
    fees: dict[uuid.UUID, list[PendingFee]] = field(default_factory=dict)


class _ChunkRows:
    """The rows one chunk of drafts writes (invoices, lines, billed fees, events), each
    list in its statement's column order, and the run's answer for each invoice."""

    __slots__ = ("due", "events", "fees", "invoices", "lines")

    def __init__(self, due: datetime) -> None:
        self.due = due
        self.invoices: list[tuple[Any, ...]] = []
        self.lines: list[tuple[Any, ...]] = []
        self.fees: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []

    def numbers(self) -> list[tuple[str, uuid.UUID, uuid.UUID]]:
        """(number, tenant_id, invoice id) of the chunk's invoices, for the registry."""
        return [(number, tid, invoice_id) for tid, invoice_id, number, *_ in self.invoices]

    def add(self, draft: DraftInvoice, number: str) -> RunInvoice:
        invoice_id = new_id()
        tid = draft.tenant_id
        self.invoices.append(
            (
                tid,
                invoice_id,
                number,
                draft.currency,
                draft.tax_rate_bp,
                draft.subtotal,
                draft.tax,
                draft.total,
            )
        )
        for position, line in enumerate(draft.lines, start=1):
            self.lines.append(
                (
                    tid,
                    new_id(),
                    invoice_id,
                    position,
                    line.kind.value,
                    line.project_id,
                    line.code,
                    line.description,
                    line.note,
                    line.unit,
                    line.quantity,
                    line.unit_price,
                    line.amount,
                    line.service_month,
                    line.active_days,
                    line.days_in_month,
                    line.late,
                )
            )
        self.fees.extend((tid, fee_id, invoice_id) for fee_id in draft.one_off_fee_ids)
        payload = InvoiceIssuedV1(
            invoice_id=invoice_id,
            number=number,
            currency=draft.currency,
            subtotal=draft.subtotal,
            tax=draft.tax,
            total=draft.total,
            period_start=draft.period_start,
            period_end=draft.period_end,
            due_at=self.due,
        )
        self.events.append((new_id(), tid, msgspec.json.encode(payload).decode()))
        return RunInvoice(
            tenant_id=tid,
            invoice_id=invoice_id,
            number=number,
            currency=draft.currency,
            subtotal=draft.subtotal,
            tax=draft.tax,
            total=draft.total,
            line_count=len(draft.lines),
        )


class BillingRunService:
    async def run(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        period: date,
        tenant_ids: Sequence[uuid.UUID] | None = None,
        preview: bool = False,
    ) -> BillingRun:
        """Close ``period`` for the customers (all, or ``tenant_ids``) into invoices; with
        ``preview``, answer what would be issued and write nothing.

        A month that has not ended is closed only for tenants that are closed (their final
        invoice); otherwise the run is refused (409 ``period_not_ended``), since it would
        bill the whole month's fee and put the rest of the month's usage in the next."""
        conn = await repository.driver(session)
        if not preview and not has_ended(period, utcnow()):
            await self._refuse_open_period(conn, period, tenant_ids)
        await repository.widen_work_mem(conn, RUN_WORK_MEM)
        customers = await self._customers(conn, period, tenant_ids, preview=preview)
        facts = await self._read(conn, period, customers, close=not preview)
        drafts = self._compose(period, customers.tenants, facts)
        if preview:
            return self._preview(period, customers, drafts)
        run_id = new_id()
        issued = await self._issue(session, conn, drafts, run_id=run_id)
        await self._audit(session, ctx, period, customers, issued, run_id=run_id)
        return BillingRun(
            run_id=run_id,
            period=_label(period),
            period_start=period,
            period_end=period_end(period),
            preview=False,
            tenants_closed=len(customers.tenants),
            invoices_issued=len(issued),
            nothing_to_bill=len(customers.tenants) - len(issued),
            already_closed=customers.already_closed,
            invoices=issued,
        )

    @staticmethod
    async def _refuse_open_period(
        conn: asyncpg.Connection, period: date, tenant_ids: Sequence[uuid.UUID] | None
    ) -> None:
        if tenant_ids is not None and not await repository.not_closed(conn, tenant_ids):
            return
        label = _label(period)
        raise PeriodNotEnded(
            f"the period {label} has not ended (it ends on {period_end(period)}); only a"
            " closed tenant's final invoice may close it early",
            extra={"period": label},
        )

    @staticmethod
    async def _customers(
        conn: asyncpg.Connection,
        period: date,
        tenant_ids: Sequence[uuid.UUID] | None,
        *,
        preview: bool,
    ) -> _Customers:
        """Step 1: the customers whose period is open (locked unless a preview), less any
        already invoiced for it."""
        ids = sorted(set(tenant_ids)) if tenant_ids is not None else None
        already = await repository.count_closed(conn, period, ids)
        tenants = await repository.open_tenants(conn, period, ids, lock=not preview)
        if tenants and not preview:
            invoiced = await repository.already_invoiced(
                conn, period, [t.facts.tenant_id for t in tenants]
            )
            if invoiced:
                ids = [t.facts.tenant_id for t in tenants if t.facts.tenant_id not in invoiced]
                tenants = [t for t in tenants if t.facts.tenant_id not in invoiced]
        return _Customers(tenants, ids, already)

    @staticmethod
    async def _read(
        conn: asyncpg.Connection, period: date, customers: _Customers, *, close: bool
    ) -> _Facts:
        """Step 2: plans, usage and pending fees, set-based; with ``close``, then mark the
        period closed (after the usage read, which counts only what is still open)."""
        tenants = customers.tenants
        if not tenants:
            return _Facts()
        plans, spans = await repository.plans_of(conn, period, tenants)
        usage = await repository.usage_totals(conn, period, customers.ids, spans)
        fees = await repository.pending_fees(conn, period, tenants)
        if close:
            await repository.close_period(conn, period, tenants)
        return _Facts(plans, usage, fees)

    @staticmethod
    def _compose(period: date, tenants: Sequence[RunTenant], facts: _Facts) -> list[DraftInvoice]:
        """Step 3: each tenant's invoice, if it has anything to bill."""
        drafts: list[DraftInvoice] = []
        for tenant in tenants:
            tid = tenant.facts.tenant_id
            draft = compose(
                tenant.facts,
                period,
                plans=facts.plans.get(tid, ()),
                usage=facts.usage.get(tid, ()),
                one_off_fees=facts.fees.get(tid, ()),
            )
            if draft is not None:
                drafts.append(draft)
        return drafts

    @staticmethod
    def _preview(period: date, customers: _Customers, drafts: Sequence[DraftInvoice]) -> BillingRun:
        """What the run would issue, lines included, nothing written."""
        return BillingRun(
            run_id=None,
            period=_label(period),
            period_start=period,
            period_end=period_end(period),
            preview=True,
            tenants_closed=len(customers.tenants),
            invoices_issued=len(drafts),
            nothing_to_bill=len(customers.tenants) - len(drafts),
            already_closed=customers.already_closed,
            invoices=[
                RunInvoice(
                    tenant_id=d.tenant_id,
                    invoice_id=None,
                    number=None,
                    currency=d.currency,
                    subtotal=d.subtotal,
                    tax=d.tax,
                    total=d.total,
                    line_count=len(d.lines),
                    lines=[_run_line(x) for x in d.lines],
                )
                for d in drafts
            ],
        )

    async def _issue(
        self,
        session: AsyncSession,
        conn: asyncpg.Connection,
        drafts: Sequence[DraftInvoice],
        *,
        run_id: uuid.UUID,
    ) -> list[RunInvoice]:
        """Step 4: number and write the drafts chunk by chunk, with their events."""
        now = utcnow()
        due = now + PAYMENT_TERMS
        out: list[RunInvoice] = []
        for start in range(0, len(drafts), CHUNK):
            chunk = drafts[start : start + CHUNK]
            numbers = await take_numbers(session, now.year, len(chunk))
            rows = _ChunkRows(due)
            out.extend(
                rows.add(draft, number) for draft, number in zip(chunk, numbers, strict=True)
            )
            await register(session, DocumentKind.INVOICE, rows.numbers())
            await self._write(conn, chunk[0], rows, now=now, run_id=run_id)
        if out:
            session.info.setdefault(PENDING_KEY, set()).add(_ISSUED.producer)
        return out

    @staticmethod
    async def _write(
        conn: asyncpg.Connection,
        first: DraftInvoice,
        rows: _ChunkRows,
        *,
        now: datetime,
        run_id: uuid.UUID,
    ) -> None:
        """One chunk's statements: invoices, lines (in slices), billed fees, events."""
        await repository.insert_invoices(
            conn,
            rows.invoices,
            period_start=first.period_start,
            period_end=first.period_end,
            issued_at=now,
            due_at=rows.due,
            run_id=run_id,
        )
        for i in range(0, len(rows.lines), CHUNK * 5):
            await repository.insert_lines(conn, rows.lines[i : i + CHUNK * 5])
        if rows.fees:
            await repository.bill_fees(conn, rows.fees)
        await repository.insert_events(
            conn, rows.events, event_type=_ISSUED.name, version=_ISSUED.version, occurred_at=now
        )

    @staticmethod
    async def _audit(
        session: AsyncSession,
        ctx: Ctx,
        period: date,
        customers: _Customers,
        issued: Sequence[RunInvoice],
        *,
        run_id: uuid.UUID,
    ) -> None:
        ids = customers.ids
        await record(
            session,
            ctx,
            action="billing.run",
            entity="billing_run",
            entity_id=run_id,
            tenant_id=None,
            before=None,
            after={
                "period": _label(period),
                "tenants_closed": len(customers.tenants),
                "invoices_issued": len(issued),
                "tenant_ids": [str(x) for x in ids] if ids is not None else None,
            },
        )


billing_runs = BillingRunService()
