"""Onboarding's periodic jobs: the idempotency purge here, the webhook retry sweep in
:mod:`services.onboarding.webhooks.jobs` (imported here, so this module declares them all)."""

from __future__ import annotations

import services.onboarding.webhooks.jobs  # noqa: F401  (onboarding.webhook_retries)
from shared.http.idempotency import purge_job

purge_idempotency_keys = purge_job("onboarding", module=__name__)
