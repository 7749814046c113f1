"""Billing's Stripe jobs (imported by the scheduler through ``services.billing.jobs``)."""

from __future__ import annotations

from datetime import timedelta

from services.billing.stripe import dunning, payments, repository, webhooks
from shared.db.session import STAFF, session_scope
from shared.scheduling.registry import periodic

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
