"""Pricing's periodic jobs, for the scheduler (``run_scheduler(modules=[...])``).

``pricing.purge_idempotency_keys`` drops the expired ``Idempotency-Key`` records of
the creating POSTs; ``pricing.expire_quotes`` expires sent quotes past their
``valid_until``. Projects and the tenant mirror need nothing else (the mirror is
event-driven, projects change only on request).
"""

from __future__ import annotations

from datetime import timedelta

from services.pricing.quotes.service import quotes
from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_job
from shared.scheduling.registry import periodic

purge_idempotency_keys = purge_job("pricing", module=__name__)


# --- quotes ---------------------------------------------------------------------------


@periodic("pricing.expire_quotes", every=timedelta(minutes=5))
async def expire_quotes() -> object:
    """Sent quotes past their ``valid_until`` (in the tenant's time zone) become ``expired``."""
    async with session_scope(STAFF) as session:
        expired = await quotes.expire_due(session)
    return {"expired": expired}
