"""Onboarding's periodic jobs (webhook retries live in ``webhooks/jobs.py``)."""

from __future__ import annotations

from shared.http.idempotency import purge_job

purge_idempotency_keys = purge_job("onboarding", module=__name__)
