"""Pricing's periodic jobs, for the scheduler (``run_scheduler(modules=[...])``).

``pricing.purge_idempotency_keys`` drops the expired ``Idempotency-Key`` records of
the creating POSTs; projects and the tenant mirror need nothing else (the mirror is
event-driven, projects change only on request). Importing this module registers the
quotes' jobs (quote expiry) from ``services.pricing.quotes.jobs``, so the scheduler
needs only ``services.pricing.jobs``.
"""

from __future__ import annotations

import services.pricing.quotes.jobs  # noqa: F401  (quote expiry)
from shared.http.idempotency import purge_job

purge_idempotency_keys = purge_job("pricing", module=__name__)
