"""Pricing's periodic jobs, for the scheduler (``run_scheduler(modules=[...])``).

Projects and the tenant mirror need none: the mirror is event-driven and projects
change only on request. Importing this module registers the quotes' jobs (quote
expiry) from ``services.pricing.quotes.jobs``, so the scheduler needs only
``services.pricing.jobs``.
"""

from __future__ import annotations

import services.pricing.quotes.jobs  # noqa: F401  (quote expiry)
