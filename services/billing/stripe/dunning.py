"""Dunning: when a failed payment is retried, and when an unpaid invoice is overdue.

The schedule is counted from the FIRST failed attempt: with the default retry days
``(1, 3, 5)`` attempt 1 fails on day 0, attempts 2, 3 and 4 run on days 1, 3 and 5.
When the last one fails there is no retry left; once the grace period after that
failure has passed (and the invoice's due date, if later), the invoice is overdue:
``invoice.overdue`` makes onboarding suspend the tenant, and a later payment
(``invoice.paid``) resumes it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

import structlog

from services.billing.invoices.service import invoices
from services.billing.stripe import repository
from services.billing.stripe.settings import StripeSettings, get_stripe_settings
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope

log = structlog.get_logger(__name__)

OVERDUE_BATCH = 200


def next_retry_at(
    attempt: int, first_failed_at: datetime, settings: StripeSettings | None = None
) -> datetime | None:
    """When to charge again after ``attempt`` (1-based) failed; ``None``: no retry left."""
    days = (settings or get_stripe_settings()).retry_days
    if attempt < 1 or attempt > len(days):
        return None
    return first_failed_at + timedelta(days=days[attempt - 1])


async def mark_overdue_due(*, now: datetime | None = None) -> int:
    """Declare overdue every failed invoice whose retries and grace period are over.

    Candidates are read across tenants without locks; each tenant's are then moved by
    one conditional statement (:meth:`InvoiceService.mark_overdue_many`), so a second
    run at the same time moves, logs and counts each invoice at most once between them.
    """
    settings = get_stripe_settings()
    now = now or utcnow()
    marked = 0
    while True:
        async with session_scope(STAFF) as session:
            due = await repository.dunning_exhausted(
                session,
                now=now,
                max_attempts=settings.max_attempts,
                grace=timedelta(days=settings.grace_days),
                limit=OVERDUE_BATCH,
            )
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for tenant_id, invoice_id in due:
            by_tenant[tenant_id].append(invoice_id)
        for tenant_id in sorted(by_tenant):
            async with session_scope(STAFF) as session:
                moved = await invoices.mark_overdue_many(
                    session, tenant_id, by_tenant[tenant_id], now=now
                )
            for invoice in moved:
                log.info("billing.invoice_overdue", invoice_id=str(invoice.id))
            marked += len(moved)
        if len(due) < OVERDUE_BATCH:
            return marked
