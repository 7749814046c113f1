"""Every query on operators and their state log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.operators.models import Operator, OperatorState, OperatorStateSpan
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id

_TRANSITION = text(
    """
    WITH op AS (
        UPDATE assignment.operators
           SET state = :state, state_since = now(), updated_at = now(),
               last_seen_at = CASE WHEN :seen THEN now() ELSE last_seen_at END
         WHERE id = :operator_id AND state <> :state AND state = ANY(:from_states)
        RETURNING id
    ), closed AS (
        UPDATE assignment.operator_states SET ended_at = now()
         WHERE operator_id IN (SELECT id FROM op) AND ended_at IS NULL
        RETURNING id
    )
    INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason)
    SELECT :span_id, id, :state, now(), :reason FROM op
    RETURNING operator_id
    """
)

ALL_STATES = ["offline", "available", "break", "on_task"]


async def transition(
    session: AsyncSession,
    operator_id: uuid.UUID,
    state: str,
    *,
    reason: str,
    from_states: list[str] | None = None,
    seen: bool = False,
) -> bool:
    """Move the operator to ``state`` (from one of ``from_states``) and log the span.

    One statement: the state, the end of the open span and the new span. Answers
    whether the state changed (``False`` when already there or not in ``from_states``).
    """
    result = await session.execute(
        _TRANSITION,
        {
            "operator_id": operator_id,
            "state": state,
            "from_states": from_states or ALL_STATES,
            "reason": reason,
            "span_id": new_id(),
            "seen": seen,
        },
    )
    return result.first() is not None


async def open_first_span(session: AsyncSession, operator_id: uuid.UUID, reason: str) -> None:
    """The log's first span of a new profile (it starts offline)."""
    await session.execute(
        text(
            "INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason) "
            "SELECT :span_id, :id, state, now(), :reason FROM assignment.operators WHERE id = :id"
        ),
        {"span_id": new_id(), "id": operator_id, "reason": reason},
    )


_FACTS = "SELECT * FROM assignment.operator_facts($1)"
_HOLD_TASKS = "SELECT * FROM assignment.hold_tasks($1, $2)"


async def facts(conn: Any, operator_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The operators' ``status, state, skills, project_ids`` by id (those with a profile),
    read without a lock on the asyncpg connection ``conn`` (``operator_facts.sql``)."""
    return {record["id"]: record for record in await conn.fetch(_FACTS, operator_ids)}


async def hold_tasks(conn: Any, claims: str, task_ids: list[uuid.UUID | None]) -> dict[int, Any]:
    """The operators' side of a claim round whose leases committed (``hold_tasks.sql``):
    ``claims`` as encoded for ``claim_tenant``, ``task_ids[n]`` the task leased for claim
    ``n`` (``None``: none). Answers by claim ``n`` (operators with a profile) ``held``
    (the lease is now the operator's current one; ``False`` for a leased task: return
    it) and the operator's ``status, state, skills, project_ids`` after the statement."""
    return {record["n"]: record for record in await conn.fetch(_HOLD_TASKS, claims, task_ids)}


async def touch(session: AsyncSession, operator_id: uuid.UUID) -> Any:
    """Record a sign of life; answers the operator's routing facts and latest lease
    (``current_tenant_id, current_task_id``), or ``None``."""
    result = await session.execute(
        text(
            "UPDATE assignment.operators SET last_seen_at = now() WHERE id = :id "
            "RETURNING id, status, state, skills, project_ids, current_tenant_id, "
            "current_task_id"
        ),
        {"id": operator_id},
    )
    return result.first()


async def current_lease(session: AsyncSession, operator_id: uuid.UUID) -> Any:
    """The operator's latest lease as ``current_tenant_id, current_task_id`` (both
    ``None`` before the first), read without a lock; ``None`` without a profile."""
    result = await session.execute(
        select(Operator.current_tenant_id, Operator.current_task_id).where(
            Operator.id == operator_id
        )
    )
    return result.first()


async def current_leases(
    session: AsyncSession, operator_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """``(tenant_id, task_id, operator_id)`` of the operators' latest leases."""
    result = await session.execute(
        select(Operator.current_tenant_id, Operator.current_task_id, Operator.id).where(
            Operator.id.in_(operator_ids), Operator.current_task_id.is_not(None)
        )
    )
    return [(row[0], row[1], row[2]) for row in result if row[0] is not None and row[1]]


async def spans_today(
    session: AsyncSession, operator_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    """Seconds per state since ``since`` (open spans count up to now)."""
    result = await session.execute(
        text(
            """
            SELECT operator_id, state,
                   sum(extract(epoch FROM coalesce(ended_at, now())
                       - greatest(started_at, :since)))::bigint AS seconds
              FROM assignment.operator_states
             WHERE operator_id = ANY(:ids) AND coalesce(ended_at, now()) > :since
             GROUP BY operator_id, state
            """
        ),
        {"ids": operator_ids, "since": since},
    )
    out: dict[uuid.UUID, dict[str, int]] = {}
    for row in result:
        out.setdefault(row.operator_id, {})[row.state] = int(row.seconds or 0)
    return out


async def stats_today(
    session: AsyncSession, operator_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, dict[str, Any]]:
    """Tasks completed, talk seconds and outcomes per disposition since ``since``."""
    result = await session.execute(
        text(
            """
            SELECT operator_id, disposition, count(*) AS n, sum(talk_seconds) AS talk
              FROM assignment.attempts
             WHERE operator_id = ANY(:ids) AND created_at >= :since
             GROUP BY operator_id, disposition
            """
        ),
        {"ids": operator_ids, "since": since},
    )
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for row in result:
        entry = out.setdefault(row.operator_id, {"tasks": 0, "talk_seconds": 0, "outcomes": {}})
        entry["tasks"] += int(row.n)
        entry["talk_seconds"] += int(row.talk or 0)
        entry["outcomes"][row.disposition] = int(row.n)
    return out


async def get(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    """The profile as the database holds it now."""
    return await session.get(Operator, operator_id, populate_existing=True)


async def lock(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    """The profile, locked for this transaction."""
    return await session.get(Operator, operator_id, with_for_update=True)


async def page(session: AsyncSession, params: PageParams) -> tuple[list[Operator], str | None]:
    """A page of profiles, oldest first."""
    return await paginate(
        session, select(Operator), order_by=(Operator.created_at, Operator.id), params=params
    )


async def upsert(session: AsyncSession, operator_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Create the profile with ``values``, or set them on the existing one."""
    await session.execute(
        pg_insert(Operator)
        .values(id=operator_id, **values)
        .on_conflict_do_update(
            index_elements=[Operator.id], set_={**values, "updated_at": func.now()}
        )
    )


async def update_profile(
    session: AsyncSession, operator_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        update(Operator).where(Operator.id == operator_id).values(**values, updated_at=func.now())
    )


async def status_of(session: AsyncSession, operator_id: uuid.UUID) -> str | None:
    status: str | None = await session.scalar(
        select(Operator.status).where(Operator.id == operator_id)
    )
    return status


async def spans_since(
    session: AsyncSession, operator_id: uuid.UUID, since: datetime, limit: int = 1000
) -> list[OperatorStateSpan]:
    """The operator's state spans still open at or ended after ``since``, oldest first."""
    result = await session.scalars(
        select(OperatorStateSpan)
        .where(
            OperatorStateSpan.operator_id == operator_id,
            func.coalesce(OperatorStateSpan.ended_at, func.now()) >= since,
        )
        .order_by(OperatorStateSpan.started_at, OperatorStateSpan.id)
        .limit(limit)
    )
    return list(result)


async def lock_silent(session: AsyncSession, silence: timedelta) -> list[uuid.UUID]:
    """Operators not offline who gave no sign of life for ``silence`` (locked; those
    another transaction holds are skipped)."""
    result = await session.scalars(
        select(Operator.id)
        .where(
            Operator.state != OperatorState.OFFLINE,
            func.coalesce(Operator.last_seen_at, Operator.state_since) < func.now() - silence,
        )
        .with_for_update(skip_locked=True)
    )
    return list(result)
