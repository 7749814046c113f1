"""Billing's periodic jobs (module ``services.billing.jobs`` for the scheduler).

``billing.monthly_run`` closes the previous calendar month for every customer at
03:00 UTC on the 1st; ``billing.purge_idempotency_keys`` drops the expired
``Idempotency-Key`` records of credit notes; the Stripe section charges, dunns and
applies or prunes stored Stripe events.
"""

from __future__ import annotations

from datetime import timedelta

from services.billing.runs.service import billing_runs, previous_period
from services.billing.stripe import dunning, payments, repository, webhooks
from shared.context import SYSTEM
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_job
from shared.scheduling.registry import periodic

purge_idempotency_keys = purge_job("billing", module=__name__)


@periodic("billing.monthly_run", cron="0 3 1 * *", timeout=timedelta(hours=1))
async def monthly_run() -> object:
    """Issue the previous month's invoices (a month already closed issues nothing)."""
    period = previous_period(utcnow())
    async with session_scope(STAFF) as session:
        result = await billing_runs.run(session, SYSTEM, period=period)
    return {
        "period": result.period,
        "invoices_issued": result.invoices_issued,
        "tenants_closed": result.tenants_closed,
        "already_closed": result.already_closed,
    }


# --- stripe: payments, dunning, stored events -----------------------------------------

EVENTS_KEEP_DAYS = 90
"""Processed Stripe events are kept this long (Stripe retries for 3 days; audits want more)."""


@periodic("billing.charge_due", every=timedelta(minutes=10))
async def charge_due() -> object:
    """Charge issued invoices (first charge) and failed ones whose retry is due."""
    return await payments.charge_due()


@periodic("billing.dunning_overdue", every=timedelta(hours=1))
async def dunning_overdue() -> object:
    """Declare overdue the invoices whose retries and grace period are over."""
    return {"overdue": await dunning.mark_overdue_due()}


@periodic("billing.stripe_events_sweep", every=timedelta(minutes=1))
async def stripe_events_sweep() -> object:
    """Apply stored Stripe events that no actor applied (lost message, earlier failure)."""
    return await webhooks.process_pending()


@periodic("billing.stripe_events_prune", every=timedelta(hours=6))
async def stripe_events_prune() -> object:
    """Delete processed Stripe events older than :data:`EVENTS_KEEP_DAYS`."""
    async with session_scope(STAFF) as session:
        removed = await repository.delete_processed_events(
            session, older_than=timedelta(days=EVENTS_KEEP_DAYS)
        )
    return {"removed": removed}
