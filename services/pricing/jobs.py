"""Pricing's periodic jobs, for the scheduler (``run_scheduler(modules=[...])``).

Projects and the tenant mirror need none: the mirror is event-driven and projects
change only on request. Importing this module registers the quotes' jobs (quote
expiry) when ``services.pricing.quotes.jobs`` exists, so the scheduler needs only
``services.pricing.jobs``.
"""

from __future__ import annotations

import importlib

try:
    importlib.import_module("services.pricing.quotes.jobs")
except ModuleNotFoundError as exc:  # quotes declare no jobs (yet)
    if exc.name != "services.pricing.quotes.jobs":
        raise
