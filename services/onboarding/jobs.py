"""Onboarding's periodic jobs: the idempotency purge here, the webhook retry sweep in
:mod:`services.onboarding.webhooks.jobs` (imported here, so this module declares them all)."""

from __future__ import annotations

from datetime import timedelta

import services.onboarding.webhooks.jobs  # noqa: F401  (onboarding.webhook_retries)
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
