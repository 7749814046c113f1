"""Onboarding's periodic jobs (webhook retries live in ``webhooks/jobs.py``)."""

from __future__ import annotations

from datetime import timedelta

from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_expired
from shared.scheduling.registry import periodic

BATCH = 10_000


@periodic("onboarding.purge_idempotency_keys", every=timedelta(minutes=10))
async def purge_idempotency_keys() -> object:
    """Delete idempotency records older than 24 hours, in batches."""
    total = 0
    while True:
        async with session_scope(STAFF) as session:
            deleted = await purge_expired(session, "onboarding", limit=BATCH)
        total += deleted
        if deleted < BATCH:
            return {"deleted": total}
