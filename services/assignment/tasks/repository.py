"""Every query on tasks, assignments and attempts, including the claim.

The claim is two steps. :func:`ready_heads` reads, per active project and class tier,
the head of the ready queue (one probe of ``ix_tasks_ready`` each); the process keeps
these heads for a moment (:mod:`services.assignment.tasks.ready`) and lets
``routing.pick`` choose one. :func:`claim_task` (the service's path: one call of the
``assignment.claim_task`` function, one round trip) or :func:`lease_head` (the same
statement inside a session's transaction) then leases the first unlocked ready task of
the chosen (tenant, project, tier) queue with ``FOR UPDATE SKIP LOCKED`` and records the
assignment with its reason — one statement, one index scan.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.ids import new_id

CHANNEL = "assignment_ready"
"""NOTIFY channel: a task became ready (new task, returned lease)."""

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

_LEASE = text(
    f"""
    WITH me AS (
        SELECT o.id, o.status, o.state, o.skills, o.project_ids,
               (o.status = 'active' AND o.state = 'available'
                AND o.skills @> CAST(:skills AS text[])
                AND (cardinality(o.project_ids) = 0
                     OR CAST(:project_id AS uuid) = ANY(o.project_ids))) AS eligible
          FROM assignment.operators o
         WHERE o.id = :operator_id
           FOR UPDATE
    ), c AS (
        SELECT t.tenant_id, t.id
          FROM assignment.tasks t
         WHERE (SELECT eligible FROM me)
           AND t.tenant_id = :tenant_id AND t.project_id = :project_id
           AND t.class_rank = :tier AND {_READY}
         ORDER BY t.next_allowed_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED
    ), u AS (
        UPDATE assignment.tasks t
           SET status = 'leased', leased_to = :operator_id, leased_at = now(),
               lease_expires_at = now() + make_interval(secs => :lease_seconds),
               lease_count = t.lease_count + 1, updated_at = now()
          FROM c
         WHERE t.tenant_id = c.tenant_id AND t.id = c.id
        RETURNING t.*
    ), a AS (
        INSERT INTO assignment.assignments (tenant_id, id, task_id, operator_id, reason)
        SELECT u.tenant_id, :assignment_id, u.id, :operator_id, :reason FROM u
        RETURNING id
    ), o AS (
        UPDATE assignment.operators op
           SET last_seen_at = now(),
               state = CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'on_task' ELSE op.state END,
               state_since = CASE WHEN EXISTS (SELECT 1 FROM u) THEN now()
                                  ELSE op.state_since END
          FROM me
         WHERE op.id = me.id
        RETURNING op.id
    ), closed AS (
        UPDATE assignment.operator_states s SET ended_at = now()
         WHERE s.operator_id = :operator_id AND s.ended_at IS NULL
           AND EXISTS (SELECT 1 FROM u)
        RETURNING s.id
    ), opened AS (
        INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason)
        SELECT :span_id, :operator_id, 'on_task', now(), 'task_leased' FROM u
        RETURNING id
    )
    SELECT me.status AS operator_status, me.state AS operator_state, me.eligible,
           me.skills AS operator_skills, me.project_ids AS operator_projects,
           (SELECT count(*) FROM o) AS touched, u.*
      FROM me LEFT JOIN u ON true
    """  # noqa: S608 (only constant SQL fragments are interpolated)
)


async def ready_heads(session: AsyncSession) -> list[Any]:
    return list(await session.execute(_HEADS))


async def lease_head(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    tier: int,
    skills: list[str],
    operator_id: uuid.UUID,
    lease_seconds: float,
    assignment_id: uuid.UUID,
    reason: str,
) -> Any:
    """One statement: check the operator may take this queue (active, available, has the
    project's ``skills``, may work the project), lease the queue's first unlocked ready
    task, record the assignment, put the operator ``on_task`` and log the span.

    Answers ``None`` when the operator has no profile; otherwise a row with the
    operator's facts (``operator_status``, ``operator_state``, ``eligible``,
    ``operator_skills``, ``operator_projects``) and the leased task's columns (``id``
    is ``None`` when nothing was leased).
    """
    result = await session.execute(
        _LEASE,
        {
            "tenant_id": tenant_id,
            "project_id": project_id,
            "tier": tier,
            "skills": skills,
            "operator_id": operator_id,
            "lease_seconds": lease_seconds,
            "assignment_id": assignment_id,
            "reason": reason,
            "span_id": new_id(),
        },
    )
    return result.first()


_CLAIM_TASK = "SELECT * FROM assignment.claim_task($1, $2, $3, $4, $5, $6, $7, $8, $9)"


async def claim_task(
    conn: Any,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    tier: int,
    skills: list[str],
    operator_id: uuid.UUID,
    lease_seconds: float,
    assignment_id: uuid.UUID,
    reason: str,
) -> Any:
    """:func:`lease_head` in one round trip: the ``assignment.claim_task`` function
    (migration ``0014_assignment_claim``, the same statement under the staff scope)
    called on the asyncpg connection ``conn`` outside any explicit transaction, so the
    call is a transaction of its own — no BEGIN, ``set_config`` or COMMIT round trips.

    Answers what :func:`lease_head` answers (attributes of one row, or ``None``).
    """
    record = await conn.fetchrow(
        _CLAIM_TASK,
        tenant_id,
        project_id,
        tier,
        skills,
        operator_id,
        lease_seconds,
        assignment_id,
        new_id(),
        reason,
    )
    return None if record is None else SimpleNamespace(**record)


async def held_by(session: AsyncSession, operator_id: uuid.UUID) -> Any:
    """The task the operator holds under a live lease, if any."""
    result = await session.execute(
        text(
            "SELECT * FROM assignment.tasks WHERE leased_to = :op AND status = 'leased' "
            "AND lease_expires_at > now() ORDER BY leased_at DESC LIMIT 1"
        ),
        {"op": operator_id},
    )
    return result.first()


async def renew_lease(
    session: AsyncSession, task_id: uuid.UUID, operator_id: uuid.UUID, lease_seconds: float
) -> datetime | None:
    """Extend a live lease held by the operator; ``None`` when it is not theirs (any more)."""
    result = await session.execute(
        text(
            """
            UPDATE assignment.tasks
               SET lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
             WHERE id = :id AND status = 'leased' AND leased_to = :op
               AND lease_expires_at > now()
            RETURNING lease_expires_at
            """
        ),
        {"id": task_id, "op": operator_id, "lease": lease_seconds},
    )
    return result.scalar()


async def ever_assigned(session: AsyncSession, task_id: uuid.UUID, operator_id: uuid.UUID) -> bool:
    result = await session.execute(
        text(
            "SELECT 1 FROM assignment.assignments a JOIN assignment.tasks t "
            "ON t.tenant_id = a.tenant_id AND t.id = a.task_id "
            "WHERE t.id = :id AND a.operator_id = :op LIMIT 1"
        ),
        {"id": task_id, "op": operator_id},
    )
    return result.first() is not None


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


async def return_expired(session: AsyncSession, limit: int = 5000) -> list[Any]:
    """Expired leases back to the queue (their assignments end ``expired``)."""
    result = await session.execute(
        text(
            """
            WITH x AS (
                SELECT tenant_id, id FROM assignment.tasks
                 WHERE status = 'leased' AND lease_expires_at <= now()
                 ORDER BY lease_expires_at
                 LIMIT :limit
                   FOR UPDATE SKIP LOCKED
            ), u AS (
                UPDATE assignment.tasks t
                   SET status = 'queued', leased_to = NULL, leased_at = NULL,
                       lease_expires_at = NULL, updated_at = now()
                  FROM x WHERE t.tenant_id = x.tenant_id AND t.id = x.id
                RETURNING t.tenant_id, t.id, x.id AS _x
            ), old AS (
                SELECT a.tenant_id, a.task_id, a.operator_id FROM assignment.assignments a
                  JOIN u ON a.tenant_id = u.tenant_id AND a.task_id = u.id
                 WHERE a.ended_at IS NULL
            ), e AS (
                UPDATE assignment.assignments a SET ended_at = now(), outcome = 'expired'
                  FROM old WHERE a.tenant_id = old.tenant_id AND a.task_id = old.task_id
                   AND a.ended_at IS NULL
                RETURNING a.operator_id
            )
            SELECT u.tenant_id, u.id, old.operator_id
              FROM u LEFT JOIN old ON old.tenant_id = u.tenant_id AND old.task_id = u.id
            """
        ),
        {"limit": limit},
    )
    return list(result)


async def return_held(
    session: AsyncSession, operator_ids: list[uuid.UUID], outcome: str = "returned"
) -> list[Any]:
    """The operators' leased tasks back to the queue."""
    result = await session.execute(
        text(
            """
            WITH u AS (
                UPDATE assignment.tasks
                   SET status = 'queued', leased_to = NULL, leased_at = NULL,
                       lease_expires_at = NULL, updated_at = now()
                 WHERE status = 'leased' AND leased_to = ANY(:ops)
                RETURNING tenant_id, id
            ), e AS (
                UPDATE assignment.assignments a SET ended_at = now(), outcome = :outcome
                  FROM u WHERE a.tenant_id = u.tenant_id AND a.task_id = u.id
                   AND a.ended_at IS NULL
                RETURNING a.id
            )
            SELECT tenant_id, id FROM u
            """
        ),
        {"ops": operator_ids, "outcome": outcome},
    )
    return list(result)


async def notify_ready(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> None:
    """Wake long-polling operators (delivered at commit, once per tenant)."""
    for tenant_id in tenant_ids:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(tenant_id)},
        )


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
