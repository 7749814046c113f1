"""Every query on tasks, assignments and attempts, including the claim.

The claim is two steps. :func:`ready_heads` reads, per active project and class tier,
the head of the ready queue (one probe of ``ix_tasks_ready`` each); the process keeps
these heads for a moment (:mod:`services.assignment.tasks.ready`) and lets
``routing.pick`` choose one per asking operator. :func:`claim_tenant` (one call of the
``assignment.claim_tenant`` function per tenant of the round, run concurrently) then
leases, per chosen (project, tier) queue of that tenant, its first unlocked ready tasks
with ``FOR UPDATE SKIP LOCKED`` and records each assignment with its reason — one
statement per tenant, one index scan per queue. The operators' side is written after
(:mod:`services.assignment.tasks.leasing`).

A task is addressed by ``(tenant_id, id)`` in every statement: operator calls learn the
tenant from the operator's latest lease (``operators.current_tenant_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import msgspec
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.tasks.models import Attempt, Task

PENDING = ("queued", "leased")

_READY = "t.status = 'queued' AND t.next_allowed_at <= now() AND t.window_closes_at > now()"

_HEADS = text(
    f"""
    SELECT p.tenant_id, p.id AS project_id, p.priority, p.speed_to_lead_seconds,
           p.required_skills, c.tier, h.id AS task_id, h.kind, h.due_at, h.received_at
      FROM assignment.projects p
     CROSS JOIN (VALUES (0::smallint), (1::smallint), (2::smallint)) AS c(tier)
     CROSS JOIN LATERAL (
           SELECT t.id, t.kind, t.due_at, t.received_at
             FROM assignment.tasks t
            WHERE t.tenant_id = p.tenant_id AND t.project_id = p.id
              AND t.class_rank = c.tier AND {_READY}
            ORDER BY t.next_allowed_at
            LIMIT 1) h
     WHERE p.status = 'active'
    """  # noqa: S608 (only constant SQL fragments are interpolated)
)


async def ready_heads(session: AsyncSession) -> list[Any]:
    return list(await session.execute(_HEADS))


@dataclass(frozen=True, slots=True)
class Claim:
    """One operator's claim on the head of a chosen queue, as ``claim_tenant`` (and after it
    ``assignment.hold_tasks``) takes it."""

    n: int
    """Its place in the batch: the order tasks of one queue are handed out in."""
    operator_id: uuid.UUID
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    tier: int
    skills: list[str]
    assignment_id: uuid.UUID
    span_id: uuid.UUID
    reason: str


_CLAIM_TENANT = "SELECT * FROM assignment.claim_tenant($1, $2, $3)"
encode_claims = msgspec.json.Encoder().encode


async def claim_tenant(
    conn: Any, tenant_id: uuid.UUID, claims: Sequence[Claim], lease_seconds: float
) -> dict[int, Any]:
    """Lease a task for each of one tenant's claims in one round trip: the
    ``assignment.claim_tenant`` function (``claim_tenant.sql`` beside this module) called
    on the asyncpg connection ``conn`` (to the database holding the tenant) outside any
    explicit transaction, so the call is a transaction of its own. Every claim must be
    the tenant's (the caller groups a round by tenant).

    Answers, by claim ``n``, the leased task's row (with ``project_revision``) for each
    claim that got one; an operator listed twice is leased for once.
    """
    records = await conn.fetch(
        _CLAIM_TENANT, tenant_id, encode_claims(claims).decode(), lease_seconds
    )
    return {record["n"]: SimpleNamespace(**record) for record in records}


async def claim_tenants(
    conn: Any,
    groups: Sequence[tuple[uuid.UUID, Sequence[Claim]]],
    lease_seconds: float,
) -> dict[int, Any]:
    """:func:`claim_tenant` for several tenants held by one database, in one round trip:
    the single-tenant calls are pipelined on ``conn`` (asyncpg's ``fetchmany``), each
    still its own statement on its own tenant (delegable under Citus), and all of them
    commit together or not at all (a failure leases nothing; the caller then runs the
    tenants one by one so that only the failing tenant's claims fail)."""
    records = await conn.fetchmany(
        _CLAIM_TENANT,
        [
            (tenant_id, encode_claims(claims).decode(), lease_seconds)
            for tenant_id, claims in groups
        ],
    )
    return {record["n"]: SimpleNamespace(**record) for record in records}


_RETURN_LEASES = """
WITH u AS (
    UPDATE assignment.tasks t
       SET status = 'queued', leased_to = NULL, leased_at = NULL, lease_expires_at = NULL,
           updated_at = now()
      FROM unnest($2::uuid[], $3::uuid[]) AS v(id, operator_id)
     WHERE t.tenant_id = $1 AND t.id = v.id AND t.status = 'leased'
       AND t.leased_to = v.operator_id
    RETURNING t.id
), e AS (
    UPDATE assignment.assignments a SET ended_at = now(), outcome = $4
      FROM u WHERE a.tenant_id = $1 AND a.task_id = u.id AND a.ended_at IS NULL
)
SELECT id FROM u
"""


async def return_leases(
    conn: Any,
    tenant_id: uuid.UUID,
    task_ids: Sequence[uuid.UUID],
    operator_ids: Sequence[uuid.UUID],
    outcome: str = "returned",
) -> list[uuid.UUID]:
    """One tenant's tasks back to the queue, each only while leased to the operator at the
    same place in ``operator_ids``; their open assignments end ``outcome``. ``conn`` is an
    asyncpg connection inside a transaction under the staff scope (or a session's
    connection: :func:`return_held`). Answers the tasks returned."""
    rows = await conn.fetch(_RETURN_LEASES, tenant_id, task_ids, operator_ids, outcome)
    return [row["id"] for row in rows]


async def return_held(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    task_ids: Sequence[uuid.UUID],
    operator_ids: Sequence[uuid.UUID],
    outcome: str = "returned",
) -> list[uuid.UUID]:
    """:func:`return_leases` in the session's transaction."""
    connection = await session.connection()
    result = await connection.exec_driver_sql(
        _RETURN_LEASES, (tenant_id, list(task_ids), list(operator_ids), outcome)
    )
    return [row.id for row in result]


async def lock_task(
    session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID
) -> tuple[Task, datetime] | None:
    """The task locked for update (reloaded), and the database's clock at that moment."""
    row = (
        await session.execute(
            select(Task, func.clock_timestamp())
            .where(Task.tenant_id == tenant_id, Task.id == task_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def get_task(session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
    return await session.get(Task, (tenant_id, task_id))


async def attempt_of(
    session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID
) -> Attempt | None:
    """The attempt that completed the task."""
    attempt: Attempt | None = await session.scalar(
        select(Attempt).where(Attempt.tenant_id == tenant_id, Attempt.task_id == task_id)
    )
    return attempt


async def insert_first_call(session: AsyncSession, **values: Any) -> uuid.UUID | None:
    """Insert the lead's first-call task; ``None`` when it already has one (the partial
    unique index on first calls)."""
    inserted: uuid.UUID | None = await session.scalar(
        pg_insert(Task)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[Task.tenant_id, Task.lead_id],
            index_where=text("kind = 'first_call'"),
        )
        .returning(Task.id)
    )
    return inserted


async def held_by(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    task_id: uuid.UUID | None,
    operator_id: uuid.UUID,
) -> Any:
    """The operator's latest leased task (``operators.current_tenant_id,
    current_task_id``), if they still hold it under a live lease."""
    if tenant_id is None or task_id is None:
        return None
    result = await session.execute(
        text(
            "SELECT * FROM assignment.tasks WHERE tenant_id = :t AND id = :id "
            "AND status = 'leased' AND leased_to = :op AND lease_expires_at > now()"
        ),
        {"t": tenant_id, "id": task_id, "op": operator_id},
    )
    return result.first()


async def assignment_reason(
    session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID
) -> str | None:
    """Why the task's latest assignment was made (the routing reason)."""
    reason: str | None = await session.scalar(
        text(
            "SELECT reason FROM assignment.assignments WHERE tenant_id = :t "
            "AND task_id = :id ORDER BY assigned_at DESC LIMIT 1"
        ),
        {"t": tenant_id, "id": task_id},
    )
    return reason


async def renew_lease(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    task_id: uuid.UUID,
    operator_id: uuid.UUID,
    lease_seconds: float,
) -> datetime | None:
    """Extend a live lease held by the operator; ``None`` when it is not theirs (any more)."""
    result = await session.execute(
        text(
            """
            UPDATE assignment.tasks
               SET lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
             WHERE tenant_id = :t AND id = :id AND status = 'leased' AND leased_to = :op
               AND lease_expires_at > now()
            RETURNING lease_expires_at
            """
        ),
        {"t": tenant_id, "id": task_id, "op": operator_id, "lease": lease_seconds},
    )
    return result.scalar()


async def end_assignment(
    session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID, outcome: str
) -> None:
    await session.execute(
        text(
            "UPDATE assignment.assignments SET ended_at = now(), outcome = :outcome "
            "WHERE tenant_id = :tenant_id AND task_id = :task_id AND ended_at IS NULL"
        ),
        {"tenant_id": tenant_id, "task_id": task_id, "outcome": outcome},
    )


async def expired_leases(session: AsyncSession, limit: int) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Tasks whose lease ran out, by tenant: an unlocked read of ``ix_tasks_lease_expiry``
    (oldest first, at most ``limit``). Only candidates: :func:`return_expired` decides."""
    result = await session.execute(
        text(
            "SELECT tenant_id, id FROM assignment.tasks "
            "WHERE status = 'leased' AND lease_expires_at <= now() "
            "ORDER BY lease_expires_at LIMIT :limit"
        ),
        {"limit": limit},
    )
    return by_tenant(result)


def by_tenant(rows: Any) -> dict[uuid.UUID, list[uuid.UUID]]:
    """``(tenant_id, id)`` rows grouped by tenant, in their order."""
    grouped: dict[uuid.UUID, list[uuid.UUID]] = {}
    for tenant_id, id_ in rows:
        grouped.setdefault(tenant_id, []).append(id_)
    return grouped


_RETURN_EXPIRED = text(
    """
    WITH u AS (
        UPDATE assignment.tasks
           SET status = 'queued', leased_to = NULL, leased_at = NULL,
               lease_expires_at = NULL, updated_at = now()
         WHERE tenant_id = :tenant_id AND id = ANY(:ids)
           AND status = 'leased' AND lease_expires_at <= now()
        RETURNING tenant_id, id
    ), old AS (
        SELECT a.tenant_id, a.task_id, a.operator_id FROM assignment.assignments a
          JOIN u ON a.tenant_id = u.tenant_id AND a.task_id = u.id
         WHERE a.tenant_id = :tenant_id AND a.ended_at IS NULL
    ), e AS (
        UPDATE assignment.assignments a SET ended_at = now(), outcome = 'expired'
          FROM old WHERE a.tenant_id = :tenant_id AND a.tenant_id = old.tenant_id
           AND a.task_id = old.task_id AND a.ended_at IS NULL
        RETURNING a.operator_id
    )
    SELECT u.tenant_id, u.id, old.operator_id
      FROM u LEFT JOIN old ON old.tenant_id = u.tenant_id AND old.task_id = u.id
    """
)


async def return_expired(
    session: AsyncSession, tenant_id: uuid.UUID, task_ids: Sequence[uuid.UUID]
) -> list[Any]:
    """Those of one tenant's candidate tasks whose lease is still expired, back to the
    queue (their assignments end ``expired``), in one single-tenant statement.

    The condition is re-checked by the update itself (instead of ``SKIP LOCKED`` on the
    candidates, which a distributed database refuses across tenants): of two reapers
    updating the same row, the second waits for the first and then finds it queued, so
    each expired lease is returned — and answered — once.
    """
    result = await session.execute(_RETURN_EXPIRED, {"tenant_id": tenant_id, "ids": task_ids})
    return list(result)


async def cancel_pending(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    phone_e164: str | None = None,
    lead_id: uuid.UUID | None = None,
    reason: str,
) -> list[Any]:
    """Cancel queued and leased tasks of a number (in one tenant, or all when ``None``)
    or of one lead; their open assignments end ``cancelled``."""
    conditions = ["t.status IN ('queued', 'leased')"]
    params: dict[str, Any] = {"reason": reason}
    if phone_e164 is not None:
        conditions.append("t.phone_e164 = :phone")
        params["phone"] = phone_e164
    if lead_id is not None:
        conditions.append("t.lead_id = :lead_id")
        params["lead_id"] = lead_id
    if tenant_id is not None:
        conditions.append("t.tenant_id = :tenant_id")
        params["tenant_id"] = tenant_id
    where = " AND ".join(conditions)
    result = await session.execute(
        text(
            f"""
            WITH u AS (
                UPDATE assignment.tasks t
                   SET status = 'cancelled', cancelled_at = now(), cancel_reason = :reason,
                       leased_to = NULL, leased_at = NULL, lease_expires_at = NULL,
                       updated_at = now()
                 WHERE {where}
                RETURNING t.tenant_id, t.id, t.lead_id
            ), e AS (
                UPDATE assignment.assignments a SET ended_at = now(), outcome = 'cancelled'
                  FROM u WHERE a.tenant_id = u.tenant_id AND a.task_id = u.id
                   AND a.ended_at IS NULL
                RETURNING a.operator_id
            )
            SELECT u.tenant_id, u.id, u.lead_id, (SELECT array_agg(operator_id) FROM e) AS ops
              FROM u
            """  # noqa: S608 (only constant SQL fragments are interpolated)
        ),
        params,
    )
    return list(result)


async def attempts_of_lead(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, since: datetime
) -> tuple[int, int, bool]:
    """(attempts in all, attempts since ``since``, ever qualified) for a lead."""
    result = await session.execute(
        text(
            """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE created_at >= :since) AS today,
                   coalesce(bool_or(to_stage = 'qualified'), false) AS qualified
              FROM assignment.attempts
             WHERE tenant_id = :tenant_id AND lead_id = :lead_id
            """
        ),
        {"tenant_id": tenant_id, "lead_id": lead_id, "since": since},
    )
    row = result.one()
    return int(row.total), int(row.today), bool(row.qualified)


@dataclass(frozen=True, slots=True)
class Retimed:
    """A queued task's new offer times and priority (see :func:`retime`)."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    start: datetime | None
    closes: datetime | None
    priority: int


_RETIME = """
    UPDATE assignment.tasks t
       SET next_allowed_at = v.start, window_closes_at = v.closes,
           priority = v.priority, updated_at = now()
      FROM unnest(CAST(:ids AS uuid[]), CAST(:starts AS timestamptz[]),
                  CAST(:closes AS timestamptz[]), CAST(:priorities AS int[]))
           AS v(id, start, closes, priority)
     WHERE t.tenant_id = :tenant_id AND t.id = v.id AND t.status = 'queued' {condition}
    RETURNING t.id
"""
_RETIME_ANY = text(_RETIME.format(condition=""))
_RETIME_CLOSED = text(_RETIME.format(condition="AND t.window_closes_at <= now()"))


async def retime(
    session: AsyncSession, tasks: Sequence[Retimed], *, closed_only: bool = False
) -> list[Retimed]:
    """Set the offer times and priority of queued tasks, one statement per tenant;
    answers those that were changed. ``closed_only``: only while their window is still
    closed (the roll-over's condition, re-checked by the update, so of two concurrent
    roll-overs only one moves a task on)."""
    statement = _RETIME_CLOSED if closed_only else _RETIME_ANY
    grouped: dict[uuid.UUID, list[Retimed]] = {}
    for task in tasks:
        grouped.setdefault(task.tenant_id, []).append(task)
    changed: list[Retimed] = []
    for tenant_id in sorted(grouped):  # one lock order for concurrent roll-overs
        group = grouped[tenant_id]
        result = await session.execute(
            statement,
            {
                "tenant_id": tenant_id,
                "ids": [t.id for t in group],
                "starts": [t.start for t in group],
                "closes": [t.closes for t in group],
                "priorities": [t.priority for t in group],
            },
        )
        done = set(result.scalars())
        changed.extend(t for t in group if t.id in done)
    return changed


async def queued_of_project(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> list[Any]:
    """The project's queued tasks as ``tenant_id, id, project_id, zones, due_at`` rows."""
    result = await session.execute(
        text(
            "SELECT tenant_id, id, project_id, zones, due_at FROM assignment.tasks "
            "WHERE tenant_id = :t AND project_id = :p AND status = 'queued'"
        ),
        {"t": tenant_id, "p": project_id},
    )
    return list(result)


async def window_closed(session: AsyncSession, limit: int) -> list[Any]:
    """Queued tasks whose window closed (oldest first, at most ``limit``), as for
    :func:`queued_of_project`: an unlocked read of ``ix_tasks_window_closes`` across
    tenants, only candidates (``retime(..., closed_only=True)`` decides)."""
    result = await session.execute(
        text(
            "SELECT tenant_id, id, project_id, zones, due_at FROM assignment.tasks "
            "WHERE status = 'queued' AND window_closes_at <= now() "
            "ORDER BY window_closes_at LIMIT :limit"
        ),
        {"limit": limit},
    )
    return list(result)


async def leads_with_pending(
    session: AsyncSession, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of the leads have a queued or leased task."""
    result = await session.scalars(
        select(Task.lead_id).where(
            Task.tenant_id == tenant_id, Task.lead_id.in_(lead_ids), Task.status.in_(PENDING)
        )
    )
    return set(result)


async def attempt_counts(
    session: AsyncSession, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Attempts so far per lead (leads without any are absent)."""
    result = await session.execute(
        select(Attempt.lead_id, func.count())
        .where(Attempt.tenant_id == tenant_id, Attempt.lead_id.in_(lead_ids))
        .group_by(Attempt.lead_id)
    )
    return {row[0]: int(row[1]) for row in result}


async def forget_phone(session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> None:
    """Remove an erased lead's number from all its tasks."""
    await session.execute(
        text(
            "UPDATE assignment.tasks SET phone_e164 = NULL, updated_at = now() "
            "WHERE tenant_id = :t AND lead_id = :l AND phone_e164 IS NOT NULL"
        ),
        {"t": tenant_id, "l": lead_id},
    )
