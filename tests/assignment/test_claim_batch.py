"""Claims of operators asking at the same moment share one statement
(``assignment.claim_tenant`` per tenant), and each operator still gets what a claim of their own
would have given them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.assignment.errors import OperatorNotFound
from services.assignment.tasks import repository
from services.assignment.tasks.service import tasks
from shared.db.session import STAFF, driver_connection, session_scope
from shared.ids import new_id
from tests.assignment.conftest import World


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each ``claim_tenant`` statement run."""
    sizes: list[int] = []
    real = repository.claim_tenant

    async def counted(
        conn: Any, tenant_id: uuid.UUID, claims: Sequence[repository.Claim], lease: float
    ) -> Any:
        sizes.append(len(claims))
        return await real(conn, tenant_id, claims, lease)

    monkeypatch.setattr(repository, "claim_tenant", counted)
    return sizes


async def leases_of(operators: list[uuid.UUID]) -> Counter[uuid.UUID]:
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text(
                "SELECT leased_to FROM assignment.tasks "
                "WHERE status = 'leased' AND leased_to = ANY(:ops)"
            ),
            {"ops": operators},
        )
        return Counter(r.leased_to for r in rows)


async def test_operators_asking_at_once_share_statements_and_get_distinct_tasks(
    world: World, statements: list[int]
) -> None:
    project = await world.project()
    leads = {await world.lead(project) for _ in range(12)}
    ops = [await world.operator() for _ in range(12)]
    leased = await asyncio.gather(*(tasks.claim_once(op) for op in ops))
    assert all(lease is not None for lease in leased)
    assert {lease.lead.id for lease in leased if lease is not None} == leads
    assert await leases_of(ops) == Counter(dict.fromkeys(ops, 1))
    # shared: (a first round may try other tenants' queues, before this process knows
    # which projects these new operators may work; the statement tells it)
    assert len(statements) < 12, statements
    assert max(statements) > 1, statements
    async with session_scope(STAFF) as session:
        states = await session.scalars(
            text("SELECT state FROM assignment.operators WHERE id = ANY(:ops)"), {"ops": ops}
        )
        assert set(states) == {"on_task"}
        open_spans = await session.scalar(
            text(
                "SELECT count(*) FROM assignment.operator_states "
                "WHERE operator_id = ANY(:ops) AND ended_at IS NULL AND state = 'on_task'"
            ),
            {"ops": ops},
        )
        assert open_spans == 12


async def test_in_one_batch_the_earlier_pick_gets_the_queue_s_more_urgent_task(
    world: World,
) -> None:
    project = await world.project()
    start = datetime.now(UTC) - timedelta(minutes=10)
    leads = [await world.lead(project, received_at=start + timedelta(seconds=i)) for i in range(3)]
    ops = [await world.operator() for _ in range(3)]
    answers = await tasks.claims.claim_batch(ops)
    got = [answer[0].lead_id for answer in answers if not isinstance(answer, BaseException)]
    assert got == leads


async def test_one_operator_asking_twice_at_once_holds_one_task(world: World) -> None:
    project = await world.project()
    for _ in range(3):
        await world.lead(project)
    op = await world.operator()
    first, second = await asyncio.gather(tasks.claim_once(op), tasks.claim_once(op))
    assert first is not None
    assert second is not None
    assert first.id == second.id  # the second hears the task the first leased
    assert await leases_of([op]) == Counter({op: 1})


async def test_an_operator_without_a_profile_fails_alone(world: World) -> None:
    project = await world.project()
    await world.lead(project)
    known = await world.operator()
    got, unknown = await asyncio.gather(
        tasks.claim_once(known), tasks.claim_once(new_id()), return_exceptions=True
    )
    assert not isinstance(got, BaseException)
    assert got is not None
    assert isinstance(unknown, OperatorNotFound)


async def test_one_batch_shares_operators_fairly_between_tenants() -> None:
    a, b = World(), World()
    project_a, project_b = await a.project(), await b.project()
    old = datetime.now(UTC) - timedelta(hours=1)
    for i in range(6):  # A's leads are older: by urgency alone A would take every pick
        await a.lead(project_a, received_at=old + timedelta(seconds=i))
        await b.lead(project_b)
    ops = [await a.operator(projects=[project_a, project_b]) for _ in range(4)]
    leased = await asyncio.gather(*(tasks.claim_once(op) for op in ops))
    tenants = Counter(lease.tenant_id for lease in leased if lease is not None)
    assert tenants == Counter({a.tenant_id: 2, b.tenant_id: 2})


async def test_the_statement_leases_once_for_an_operator_listed_twice(world: World) -> None:
    project = await world.project()
    for _ in range(2):
        await world.lead(project)
    op = await world.operator()

    def claim(n: int) -> repository.Claim:
        return repository.Claim(
            n=n,
            operator_id=op,
            tenant_id=world.tenant_id,
            project_id=project,
            tier=1,
            skills=[],
            assignment_id=new_id(),
            span_id=new_id(),
            reason="test",
        )

    async with driver_connection() as conn:
        rows = await repository.claim_tenant(conn, world.tenant_id, [claim(0), claim(1)], 600)
    assert list(rows) == [0]
    assert rows[0].id is not None
    assert await leases_of([op]) == Counter({op: 1})
