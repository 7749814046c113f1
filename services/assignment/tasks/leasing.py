"""One claim round's statements, in their order (the rule of *what* a round may lease
is here; *who* gets which queue head is ``routing.pick``, in :mod:`.claims`):

1. per tenant of the round, ``assignment.claim_tenant`` on that tenant's database: the
   leases and their ``assignments`` rows, each statement touching only its own
   tenant's rows. The calls for the tenants one database holds are pipelined on one
   connection (one round trip, committed together), the databases at once; a failed
   pipeline leased nothing and is run again tenant by tenant, so a failure stays its
   tenant's;
2. after they commit, ``assignment.hold_tasks`` on the operators' database: each
   leased-for operator is checked again under their row lock (active, available, the
   skills and the project) and made ``on_task`` with the lease as their current one;
3. a lease the check refused goes straight back to the queue (per tenant, with the
   condition that it is still leased to that operator).

Why a refusal can happen, and why it is safe: the caller checked eligibility before
leasing (:func:`assignment.operator_facts`, or what it knows from its last round), but
between that and step 2 the operator may have gone on a break or offline, been
disabled, had their skills changed, or been leased a task by another process. Step 2
is the one place that makes a lease the operator's (their row lock serialises it with
state changes and with other rounds), so they end up holding at most one task, and only
while eligible. A lease left behind — step 2 refused it and step 3 failed, or the
process died between 1 and 2 — is not the operator's current one, so no operator
endpoint reaches it, and the reaper returns it when it expires; until then it is
leased, so no one else holds it either.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from services.assignment.operators import repository as operators
from services.assignment.tasks import ready, repository
from services.assignment.tasks.placement import Databases

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Round:
    """What a round did, by claim ``n``."""

    leased: dict[int, Any]
    """The task row of each lease the operator now holds."""
    holds: dict[int, Any]
    """``assignment.hold_tasks``'s row per operator with a profile (facts after it)."""
    refused: frozenset[int]
    """Claims whose lease step 2 refused (returned to the queue)."""
    failed: dict[uuid.UUID, BaseException]
    """Tenants whose ``claim_tenant`` failed (their claims leased nothing)."""


async def lease_round(
    databases: Databases, claims: Sequence[repository.Claim], lease_seconds: float
) -> Round:
    """Run the round's statements (see the module) for ``claims`` (``n`` = their index)."""
    by_tenant: dict[uuid.UUID, list[repository.Claim]] = {}
    for claim in claims:
        by_tenant.setdefault(claim.tenant_id, []).append(claim)
    leased: dict[int, Any] = {}
    failed: dict[uuid.UUID, BaseException] = {}
    by_node: dict[Hashable, list[uuid.UUID]] = {}
    for tenant_id in by_tenant:
        by_node.setdefault(databases.node(tenant_id), []).append(tenant_id)
    if len(by_node) == 1:  # the common case: one database, no task group
        [tenants] = by_node.values()
        await _claim_node(databases, tenants, by_tenant, lease_seconds, leased, failed)
    else:
        await asyncio.gather(
            *(
                _claim_node(databases, tenants, by_tenant, lease_seconds, leased, failed)
                for tenants in by_node.values()
            )
        )
    task_ids: list[uuid.UUID | None] = [None] * len(claims)
    for n, row in leased.items():
        task_ids[n] = row.id
    async with databases.staff() as conn:
        holds = await operators.hold_tasks(
            conn, repository.encode_claims(claims).decode(), task_ids
        )
    refused = frozenset(n for n in leased if (h := holds.get(n)) is None or not h["held"])
    if refused:
        await _give_back(databases, [claims[n] for n in refused], leased)
        leased = {n: row for n, row in leased.items() if n not in refused}
    return Round(leased=leased, holds=holds, refused=refused, failed=failed)


async def _claim_node(
    databases: Databases,
    tenants: list[uuid.UUID],
    by_tenant: dict[uuid.UUID, list[repository.Claim]],
    lease_seconds: float,
    leased: dict[int, Any],
    failed: dict[uuid.UUID, BaseException],
) -> None:
    """Step 1 for the tenants one database holds: their single-tenant statements in one
    pipelined round trip; if that fails (it then leased nothing), each tenant alone, at
    once, so that a failure is only its own tenant's."""
    groups = [(tenant_id, by_tenant[tenant_id]) for tenant_id in tenants]
    try:
        async with databases.tenant(tenants[0]) as conn:
            if len(groups) == 1:
                [(tenant_id, mine)] = groups
                leased.update(await repository.claim_tenant(conn, tenant_id, mine, lease_seconds))
            else:
                leased.update(await repository.claim_tenants(conn, groups, lease_seconds))
        return
    except Exception as exc:
        if len(groups) == 1:
            failed[tenants[0]] = exc
            return
    outcomes = await asyncio.gather(
        *(_claim_tenant(databases, tenant_id, mine, lease_seconds) for tenant_id, mine in groups),
        return_exceptions=True,
    )
    for (tenant_id, _), outcome in zip(groups, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome  # cancelled: leases made so far are left to the reaper
            failed[tenant_id] = outcome
        else:
            leased.update(outcome)


async def _claim_tenant(
    databases: Databases,
    tenant_id: uuid.UUID,
    claims: Sequence[repository.Claim],
    lease_seconds: float,
) -> dict[int, Any]:
    async with databases.tenant(tenant_id) as conn:
        return await repository.claim_tenant(conn, tenant_id, claims, lease_seconds)


async def _give_back(
    databases: Databases, claims: Sequence[repository.Claim], leased: dict[int, Any]
) -> None:
    """Step 3: refused leases back to the queue, per tenant (a failure is logged: the
    reaper returns those when they expire)."""
    by_tenant: dict[uuid.UUID, list[repository.Claim]] = {}
    for claim in claims:
        by_tenant.setdefault(claim.tenant_id, []).append(claim)
    outcomes = await asyncio.gather(
        *(
            _return(databases, tenant_id, [leased[c.n].id for c in mine], mine)
            for tenant_id, mine in by_tenant.items()
        ),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            log.warning("assignment: returning refused leases failed: %r", outcome)
    ready.mark_dirty()


async def _return(
    databases: Databases,
    tenant_id: uuid.UUID,
    task_ids: list[uuid.UUID],
    claims: Sequence[repository.Claim],
) -> None:
    async with databases.tenant(tenant_id) as conn, conn.transaction():
        await conn.execute("SET LOCAL app.scope = 'staff'")
        await repository.return_leases(conn, tenant_id, task_ids, [c.operator_id for c in claims])
