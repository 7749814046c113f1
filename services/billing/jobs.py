"""Billing's periodic jobs (module ``services.billing.jobs`` for the scheduler).

``billing.monthly_run`` closes the previous calendar month for every customer at
03:00 UTC on the 1st; ``billing.purge_idempotency_keys`` drops the expired
``Idempotency-Key`` records of credit notes. Importing this module also registers the
Stripe piece's jobs (payment retries, dunning) from ``services.billing.stripe.jobs``.
"""

from __future__ import annotations

from datetime import timedelta

import services.billing.stripe.jobs  # noqa: F401  (payment retries, dunning)
from services.billing.runs.service import billing_runs, previous_period
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
