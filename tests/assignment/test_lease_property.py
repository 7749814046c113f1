"""The lease law, with many concurrent operators and tiny leases on the real database:
no task is ever held by two operators at once, and no completion by a non-holder is
accepted.

Every grant the service answers (a claim, then heartbeats) is a tenure
``[lease start, last acknowledged expiry]`` in database time. For each task the
tenures never overlap; every accepted completion lies inside its operator's tenure;
a task is completed once, and its one attempt names the operator who completed it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from services.assignment.errors import LeaseLost, TaskNotFound
from services.assignment.jobs import reap
from services.assignment.tasks.schemas import TaskComplete
from services.assignment.tasks.service import TaskService
from shared.context import Ctx, PrincipalKind, Role
from shared.db.session import STAFF, session_scope
from tests.assignment.conftest import World

ACTIONS = st.sampled_from(["claim", "heartbeat", "heartbeat", "complete", "sleep", "sleep"])


@dataclass
class Tenure:
    operator: uuid.UUID
    start: datetime
    end: datetime


@dataclass
class Log:
    tenures: dict[uuid.UUID, list[Tenure]] = field(default_factory=dict)
    completions: list[tuple[uuid.UUID, uuid.UUID, datetime]] = field(default_factory=list)


async def operator_run(
    svc: TaskService, op: uuid.UUID, plan: list[str], log: Log, rng: random.Random
) -> None:
    ctx = Ctx(kind=PrincipalKind.USER, principal_id=op, role=Role.OPERATOR)
    held: uuid.UUID | None = None
    tenure: Tenure | None = None
    for action in plan:
        if action == "claim":
            got = await svc.claim_once(op)
            if got is None:
                continue
            start = got.lease_expires_at - timedelta(seconds=svc.lease_seconds)
            if held != got.id or tenure is None or start >= tenure.end:
                # A new lease (also of the same task again, after it was reaped);
                # otherwise the lease already held, answered again.
                held = got.id
                tenure = Tenure(op, start, got.lease_expires_at)
                log.tenures.setdefault(got.id, []).append(tenure)
        elif action == "heartbeat" and held is not None and tenure is not None:
            try:
                async with session_scope(STAFF) as session:
                    beat = await svc.heartbeat(session, ctx, held)
                tenure.end = max(tenure.end, beat.lease_expires_at)
            except (LeaseLost, TaskNotFound):
                held, tenure = None, None
        elif action == "complete" and held is not None:
            try:
                async with session_scope(STAFF) as session:
                    done = await svc.complete(
                        session, ctx, held, TaskComplete(disposition="qualified")
                    )
                log.completions.append((held, op, done.completed_at))
            except (LeaseLost, TaskNotFound):
                pass
            held, tenure = None, None
        else:
            await asyncio.sleep(rng.uniform(0, svc.lease_seconds * 1.5))


async def reaper(stop: asyncio.Event) -> None:
    while not stop.is_set():
        await reap()
        await asyncio.sleep(0.01)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n_operators=st.integers(2, 8),
    n_tasks=st.integers(1, 6),
    lease_ms=st.integers(40, 250),
    plans=st.lists(st.lists(ACTIONS, min_size=4, max_size=14), min_size=8, max_size=8),
    seed=st.integers(0, 2**32),
)
async def test_no_task_has_two_holders(
    n_operators: int, n_tasks: int, lease_ms: int, plans: list[list[str]], seed: int
) -> None:
    world = World()
    project = await world.project()
    leads = [await world.lead(project) for _ in range(n_tasks)]
    ops = [await world.operator() for _ in range(n_operators)]
    svc = TaskService(lease_seconds=lease_ms / 1000)
    log = Log()
    rng = random.Random(seed)
    stop = asyncio.Event()
    reaping = asyncio.create_task(reaper(stop))
    try:
        await asyncio.gather(
            *(operator_run(svc, op, plans[i], log, rng) for i, op in enumerate(ops))
        )
    finally:
        stop.set()
        await reaping

    for task_id, tenures in log.tenures.items():
        ordered = sorted(tenures, key=lambda t: t.start)
        for before, after in itertools.pairwise(ordered):
            assert after.start >= before.end, f"task {task_id} held twice: {before} {after}"
    completed: set[uuid.UUID] = set()
    for task_id, op, at in log.completions:
        assert task_id not in completed, f"task {task_id} completed twice"
        completed.add(task_id)
        mine = [t for t in log.tenures[task_id] if t.operator == op]
        assert any(t.start <= at < t.end for t in mine), f"completion outside a lease: {task_id}"
    async with session_scope(STAFF) as session:
        rows = list(
            await session.execute(
                text(
                    "SELECT t.id, t.status, t.completed_by, count(a.id) AS attempts, "
                    "min(a.operator_id::text) AS by "
                    "FROM assignment.tasks t LEFT JOIN assignment.attempts a "
                    "ON a.tenant_id = t.tenant_id AND a.task_id = t.id "
                    "WHERE t.lead_id = ANY(:leads) GROUP BY t.id, t.status, t.completed_by"
                ),
                {"leads": leads},
            )
        )
    assert len(rows) == n_tasks
    for row in rows:
        if row.status == "completed":
            assert row.attempts == 1
            assert row.by == str(row.completed_by)
            assert row.id in completed
        else:
            assert row.attempts == 0
            assert row.id not in completed
