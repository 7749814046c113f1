"""Assignment's periodic jobs: nothing gets stuck.

- ``assignment.reaper`` (every 15 s): expired leases back to the queue; operators
  silent for 2 minutes go offline and their task returns; queued tasks whose window
  closed move on to their next window.
- ``assignment.reconciler`` (every 30 s): a lead copied over a minute ago with no
  task gets its first call (a handler that failed half-way cannot lose a lead).
- ``assignment.purge_idempotency_keys`` (every 10 minutes): expired
  ``Idempotency-Key`` records of ``POST /v1/dnc`` are dropped.

- ``assignment.dnc_sweep`` (every 30 s): pending tasks of listed numbers are
  cancelled (see :func:`dnc_sweep`).

The reaper and the reconciler count what they did in
``kolokol_assignment_reaped_total{what}`` and ``kolokol_assignment_reconciled_total``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import Counter

from services.assignment.dnc.service import dnc
from services.assignment.mirrors import projects_and_leads as mirrors
from services.assignment.operators import repository as operator_repository
from services.assignment.operators.service import operators
from services.assignment.tasks import create, repository
from services.assignment.tasks.service import tasks
from shared.db.session import STAFF, session_scope
from shared.http.idempotency import purge_job
from shared.scheduling.registry import periodic

REAPED = Counter(
    "kolokol_assignment_reaped",
    "What the reaper did: expired leases returned (lease), silent operators set offline "
    "(operator), their tasks returned (operator_task), closed windows rolled on (window).",
    ["what"],
)
RECONCILED = Counter(
    "kolokol_assignment_reconciled",
    "First-call tasks the reconciler created for leads that had none.",
)

SILENCE = timedelta(minutes=2)
RECONCILE_AFTER = timedelta(minutes=1)
EXPIRED_BATCH = 5000

purge_idempotency_keys = purge_job("assignment", module=__name__)


async def reap() -> dict[str, int]:
    """One reaper pass; answers the counts (also added to the metric)."""
    expired = await return_expired()
    async with session_scope(STAFF) as session:
        silent, returned = await operators.reap_silent(session, SILENCE)
    async with session_scope(STAFF) as session:
        rolled = await tasks.roll_windows(session)
    counts = {
        "lease": len(expired),
        "operator": silent,
        "operator_task": returned,
        "window": rolled,
    }
    for what, n in counts.items():
        if n:
            REAPED.labels(what).inc(n)
    return counts


async def return_expired(limit: int = EXPIRED_BATCH) -> list[Any]:
    """Expired leases back to the queue: candidates read across tenants without locks,
    then per tenant, in a transaction of its own, one conditional update (see
    ``repository.return_expired``) and, for what it answered, the operators available
    again and waiting operators woken. Only what an update answered is acted on, so
    concurrent reapers return each lease once; one tenant per transaction, so reapers
    never wait on each other across tenants."""
    async with session_scope(STAFF) as session:
        candidates = await repository.expired_leases(session, limit)
    expired: list[Any] = []
    for tenant_id in sorted(candidates):
        async with session_scope(STAFF) as session:
            returned = await repository.return_expired(session, tenant_id, candidates[tenant_id])
            for operator_id in {row.operator_id for row in returned if row.operator_id}:
                await operator_repository.transition(
                    session,
                    operator_id,
                    "available",
                    reason="lease_expired",
                    from_states=["on_task"],
                )
            if returned:
                await create.made_ready(session, {tenant_id})
        expired.extend(returned)
    return expired


async def reconcile(limit: int = 1000) -> int:
    """First calls for copied leads without a task; answers how many were created."""
    created = 0
    async with session_scope(STAFF) as session:
        leads = await mirrors.leads_without_task(session, older_than=RECONCILE_AFTER, limit=limit)
        for lead in leads:
            project = await mirrors.get_project(session, lead.tenant_id, lead.project_id)
            if await tasks.create_first_call(session, lead, project) is not None:
                created += 1
    if created:
        RECONCILED.inc(created)
    return created


@periodic("assignment.reaper", every=timedelta(seconds=15))
async def reaper_job() -> object:
    return await reap()


@periodic("assignment.reconciler", every=timedelta(seconds=30))
async def reconciler_job() -> object:
    return {"created": await reconcile()}


# --- dnc: the do-not-call safety net --------------------------------------------------


@periodic("assignment.dnc_sweep", every=timedelta(seconds=30))
async def dnc_sweep() -> object:
    """Every 30 s, cancel pending tasks of listed numbers.

    ``dnc.add`` already cancels a number's tasks in its own transaction; this catches a
    task created concurrently (a lead arriving while the number is being listed), so a
    listed number has no pending task for longer than a minute.
    """
    async with session_scope(STAFF) as session:
        cancelled = await dnc.sweep(session)
    return {"cancelled": cancelled}
