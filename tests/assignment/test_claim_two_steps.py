"""A claim round is two steps (``services/assignment/tasks/leasing.py``): per-tenant
leases, then the operators' state. Between them an operator may change, or the process
may die; neither leaves a task held by two, nor an operator holding a task they may not."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.assignment.errors import OperatorUnavailable, TaskNotFound
from services.assignment.jobs import reap
from services.assignment.operators import repository as operator_repository
from services.assignment.tasks import ready, repository
from services.assignment.tasks.service import TaskService
from shared.context import Ctx, PrincipalKind, Role
from shared.db.session import STAFF, driver_connection, session_scope
from shared.ids import new_id
from tests.assignment.conftest import World, task_rows


async def one(sql: str, **params: Any) -> Any:
    async with session_scope(STAFF) as session:
        return (await session.execute(text(sql), params)).one()


async def test_a_lease_without_its_state_write_is_returned_by_the_reaper(world: World) -> None:
    project = await world.project()
    lead = await world.lead(project)
    op, other = await world.operator(), await world.operator()
    claim = repository.Claim(
        n=0,
        operator_id=op,
        tenant_id=world.tenant_id,
        project_id=project,
        tier=1,
        skills=[],
        assignment_id=new_id(),
        span_id=new_id(),
        reason="test",
    )
    async with driver_connection() as conn:  # step 1 commits; the process "dies" here
        rows = await repository.claim_tenant(conn, world.tenant_id, [claim], 600)
    [(task_id, row)] = [(r.id, r) for r in rows.values()]
    assert row.lead_id == lead
    me = await one("SELECT state, current_task_id FROM assignment.operators WHERE id = :id", id=op)
    assert (me.state, me.current_task_id) == ("available", None)
    # the lease is not the operator's: no endpoint of theirs reaches it, no one else gets it
    ctx = Ctx(kind=PrincipalKind.USER, principal_id=op, role=Role.OPERATOR)
    svc = TaskService()
    with pytest.raises(TaskNotFound):
        async with session_scope(STAFF) as session:
            await svc.heartbeat(session, ctx, task_id)
    assert await svc.claim_once(other) is None
    await one(
        "UPDATE assignment.tasks SET lease_expires_at = now() - interval '1 s' "
        "WHERE tenant_id = :t AND id = :id RETURNING id",
        t=world.tenant_id,
        id=task_id,
    )
    assert (await reap())["lease"] >= 1
    [task] = await task_rows(lead)
    assert (task.status, task.leased_to) == ("queued", None)
    ready.mark_dirty()  # the wake-up the returned task sends
    again = await svc.claim_once(other)
    assert again is not None
    assert again.id == task_id
    [task] = await task_rows(lead)
    assert (task.status, task.leased_to) == ("leased", other)


async def test_an_operator_gone_on_a_break_between_the_steps_holds_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eligible when read, on a break when the state write runs: the write refuses the
    lease (under the operator's row lock) and it goes straight back to the queue."""
    project = await world.project()
    lead = await world.lead(project)
    op = await world.operator()
    real = repository.claim_tenant

    async def then_break(
        conn: Any, tenant_id: uuid.UUID, claims: Any, lease: float
    ) -> dict[int, Any]:
        rows = await real(conn, tenant_id, claims, lease)
        async with session_scope(STAFF) as session:
            await operator_repository.transition(session, op, "break", reason="test")
        return rows

    monkeypatch.setattr(repository, "claim_tenant", then_break)
    with pytest.raises(OperatorUnavailable):
        await TaskService().claim_once(op)
    [task] = await task_rows(lead)
    assert (task.status, task.leased_to, task.lease_count) == ("queued", None, 1)
    me = await one("SELECT state, current_task_id FROM assignment.operators WHERE id = :id", id=op)
    assert (me.state, me.current_task_id) == ("break", None)
    ended = await one(
        "SELECT outcome FROM assignment.assignments WHERE tenant_id = :t AND task_id = :id",
        t=world.tenant_id,
        id=task.id,
    )
    assert ended.outcome == "returned"


async def test_one_operator_claiming_in_two_processes_at_once_holds_one_task(
    world: World,
) -> None:
    """Two processes (two engines, neither knowing the other) each lease a task for the
    same operator in the same moment; the state write lets one lease be theirs and
    returns the other. The other process answers the task the operator holds, or nothing
    when it looked before the first state write committed (unlike one process, which
    joins the two asks)."""
    import asyncio

    project = await world.project()
    for _ in range(2):
        await world.lead(project)
    op = await world.operator()
    first, second = await asyncio.gather(TaskService().claim_once(op), TaskService().claim_once(op))
    answers = [a.id for a in (first, second) if a is not None]
    assert answers
    assert len(set(answers)) == 1
    held = await one(
        "SELECT count(*) AS n FROM assignment.tasks WHERE status = 'leased' AND leased_to = :op",
        op=op,
    )
    assert held.n == 1
    me = await one("SELECT current_task_id FROM assignment.operators WHERE id = :id", id=op)
    assert me.current_task_id == answers[0]
