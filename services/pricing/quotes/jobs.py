"""Scheduled quote jobs (module ``services.pricing.quotes.jobs`` for the scheduler)."""

from __future__ import annotations

from datetime import timedelta

from services.pricing.quotes.service import quotes
from shared.db.session import STAFF, session_scope
from shared.scheduling.registry import periodic


@periodic("pricing.expire_quotes", every=timedelta(minutes=5))
async def expire_quotes() -> object:
    """Sent quotes past their ``valid_until`` (in the tenant's time zone) become ``expired``."""
    async with session_scope(STAFF) as session:
        expired = await quotes.expire_due(session)
    return {"expired": expired}
