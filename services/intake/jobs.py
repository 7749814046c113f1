"""Intake's periodic jobs (imported by the scheduler only)."""

from __future__ import annotations

from datetime import timedelta

from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_expired
from shared.scheduling.registry import periodic

PURGE_BATCH = 10_000


@periodic("intake.purge_idempotency_keys", every=timedelta(minutes=10))
async def purge_idempotency_keys() -> object:
    """Delete idempotency records older than 24 hours, in batches."""
    removed = 0
    while True:
        async with session_scope(STAFF) as session:
            n = await purge_expired(session, "intake", limit=PURGE_BATCH)
        removed += n
        if n < PURGE_BATCH:
            return {"removed": removed}


import services.intake.imports.jobs  # noqa: E402, F401  (import resume and purge jobs)
