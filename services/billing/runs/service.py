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
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import InvalidPeriod
from services.billing.invoices.numbering import take_numbers
from services.billing.runs import repository
from services.billing.runs.compose import (
    DraftInvoice,
    PendingFee,
    PlanFacts,
    UsageTotal,
    compose,
    period_end,
)
from services.billing.runs.schemas import BillingRun, RunInvoice, RunLine
from shared.audit.log import record
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import FieldError
from shared.ids import new_id
from shared.messaging.events import InvoiceIssuedV1, spec_for
from shared.messaging.outbox import PENDING_KEY

PAYMENT_TERMS = timedelta(days=10)
CHUNK = 1000
RUN_WORK_MEM = "64MB"
"""Enough for the usage aggregate to hash in memory (groups, not rows)."""
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


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


def _run_line(line: object) -> RunLine:
    return msgspec.convert(line, RunLine, from_attributes=True)


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
        conn = await repository.driver(session)
        await conn.execute(f"SET LOCAL work_mem = '{RUN_WORK_MEM}'")
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
        usage: dict[uuid.UUID, list[UsageTotal]] = {}
        plans: dict[uuid.UUID, list[PlanFacts]] = {}
        fees: dict[uuid.UUID, list[PendingFee]] = {}
        if tenants:
            plans, spans = await repository.plans_of(conn, period, tenants)
            usage = await repository.usage_totals(conn, period, ids, spans)
            fees = await repository.pending_fees(conn, period, tenants)
            if not preview:
                await repository.close_period(conn, period, tenants)
        drafts: list[DraftInvoice] = []
        for tenant in tenants:
            tid = tenant.facts.tenant_id
            draft = compose(
                tenant.facts,
                period,
                plans=plans.get(tid, ()),
                usage=usage.get(tid, ()),
                one_off_fees=fees.get(tid, ()),
            )
            if draft is not None:
                drafts.append(draft)
        label = f"{period.year:04d}-{period.month:02d}"
        if preview:
            return BillingRun(
                run_id=None,
                period=label,
                period_start=period,
                period_end=period_end(period),
                preview=True,
                tenants_closed=len(tenants),
                invoices_issued=len(drafts),
                nothing_to_bill=len(tenants) - len(drafts),
                already_closed=already,
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
        run_id = new_id()
        issued = await self._issue(session, conn, drafts, run_id=run_id)
        await record(
            session,
            ctx,
            action="billing.run",
            entity="billing_run",
            entity_id=run_id,
            tenant_id=None,
            before=None,
            after={
                "period": label,
                "tenants_closed": len(tenants),
                "invoices_issued": len(issued),
                "tenant_ids": [str(x) for x in ids] if ids is not None else None,
            },
        )
        return BillingRun(
            run_id=run_id,
            period=label,
            period_start=period,
            period_end=period_end(period),
            preview=False,
            tenants_closed=len(tenants),
            invoices_issued=len(issued),
            nothing_to_bill=len(tenants) - len(issued),
            already_closed=already,
            invoices=issued,
        )

    async def _issue(
        self,
        session: AsyncSession,
        conn: asyncpg.Connection,
        drafts: Sequence[DraftInvoice],
        *,
        run_id: uuid.UUID,
    ) -> list[RunInvoice]:
        now = utcnow()
        due = now + PAYMENT_TERMS
        spec = spec_for("invoice.issued")
        out: list[RunInvoice] = []
        for start in range(0, len(drafts), CHUNK):
            chunk = drafts[start : start + CHUNK]
            numbers = await take_numbers(session, now.year, len(chunk))
            invoice_rows: list[tuple[Any, ...]] = []
            line_rows: list[tuple[Any, ...]] = []
            fee_rows: list[tuple[Any, ...]] = []
            event_rows: list[tuple[Any, ...]] = []
            for draft, number in zip(chunk, numbers, strict=True):
                invoice_id = new_id()
                tid = draft.tenant_id
                invoice_rows.append(
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
                    line_rows.append(
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
                fee_rows.extend((tid, fee_id, invoice_id) for fee_id in draft.one_off_fee_ids)
                payload = InvoiceIssuedV1(
                    invoice_id=invoice_id,
                    number=number,
                    currency=draft.currency,
                    subtotal=draft.subtotal,
                    tax=draft.tax,
                    total=draft.total,
                    period_start=draft.period_start,
                    period_end=draft.period_end,
                    due_at=due,
                )
                event_rows.append((new_id(), tid, msgspec.json.encode(payload).decode()))
                out.append(
                    RunInvoice(
                        tenant_id=tid,
                        invoice_id=invoice_id,
                        number=number,
                        currency=draft.currency,
                        subtotal=draft.subtotal,
                        tax=draft.tax,
                        total=draft.total,
                        line_count=len(draft.lines),
                    )
                )
            await repository.insert_invoices(
                conn,
                invoice_rows,
                period_start=chunk[0].period_start,
                period_end=chunk[0].period_end,
                issued_at=now,
                due_at=due,
                run_id=run_id,
            )
            for i in range(0, len(line_rows), CHUNK * 5):
                await repository.insert_lines(conn, line_rows[i : i + CHUNK * 5])
            if fee_rows:
                await repository.bill_fees(conn, fee_rows)
            await repository.insert_events(
                conn, event_rows, event_type=spec.name, version=spec.version, occurred_at=now
            )
        if out:
            session.info.setdefault(PENDING_KEY, set()).add(spec.producer)
        return out


billing_runs = BillingRunService()
