"""Intake's periodic jobs (imported by the scheduler only).

- ``intake.purge_idempotency_keys``: expired ``Idempotency-Key`` records are dropped.
- ``intake.resume_imports``: an import queued for a minute with no run, or running
  with no committed batch for two, was lost (a message dropped, a worker killed):
  send it again; the run resumes from its last committed batch.
- ``intake.purge_import_errors``: rejected rows (personal data) and any stored file
  of imports that ended 30 days ago are erased; the counters stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.actors import enqueue
from services.intake.imports import repository as repo
from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_job
from shared.scheduling.registry import periodic

purge_idempotency_keys = purge_job("intake", module=__name__)


# --- imports --------------------------------------------------------------------------

QUEUED_GRACE = timedelta(minutes=1)
RUNNING_GRACE = timedelta(minutes=2)
KEEP_REJECTED = timedelta(days=30)
RESUME_LIMIT = 100


@periodic("intake.resume_imports", every=timedelta(minutes=1))
async def resume_imports() -> object:
    now = datetime.now(UTC)
    async with session_scope(STAFF) as session:
        stale = await repo.stale_unfinished(
            session,
            queued_before=now - QUEUED_GRACE,
            running_before=now - RUNNING_GRACE,
            limit=RESUME_LIMIT,
        )
        for tenant_id, import_id in stale:
            # touched so that a backlogged queue does not get the same import every minute
            await repo.set_fields(session, tenant_id, import_id)
    for tenant_id, import_id in stale:
        enqueue(tenant_id, import_id)
    return {"resumed": len(stale)}


@periodic("intake.purge_import_errors", every=timedelta(hours=1))
async def purge_import_errors() -> object:
    async with session_scope(STAFF) as session:
        purged = await repo.purge_rejected(
            session, finished_before=datetime.now(UTC) - KEEP_REJECTED
        )
    return {"imports_purged": purged}
