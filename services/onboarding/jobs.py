"""Onboarding's periodic jobs: the idempotency purge and the webhook retry sweep."""

from __future__ import annotations

from datetime import timedelta

from services.onboarding.webhooks.dispatch import deliver_due
from shared.http.idempotency import purge_job
from shared.scheduling.registry import periodic

purge_idempotency_keys = purge_job("onboarding", module=__name__)


# --- webhooks -------------------------------------------------------------------------


@periodic("onboarding.webhook_retries", every=timedelta(seconds=15))
async def webhook_retries() -> object:
    """Send every delivery whose time has come (first attempts the actor missed, retries)."""
    return await deliver_due()
