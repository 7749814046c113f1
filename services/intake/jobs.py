"""Intake's periodic jobs (imported by the scheduler only): the idempotency records'
purge here, the imports' resume and purge in ``imports/jobs.py``."""

from __future__ import annotations

import services.intake.imports.jobs  # noqa: F401  (registers the import resume and purge jobs)
from shared.http.idempotency import purge_job

purge_idempotency_keys = purge_job("intake", module=__name__)
