"""Two reapers at once: candidates are read without locks, so both see the same ones;
the conditional per-tenant update lets only one of them act on each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from services.assignment import jobs
from services.assignment.tasks import repository
from services.assignment.tasks.service import tasks
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.assignment.conftest import World, task_rows
from tests.support.clients import ApiClient
from tests.support.together import meet_after


async def sql(statement: str, **params: object) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(text(statement), params)


async def test_two_reapers_return_each_expired_lease_once(
    world: World, api_client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await world.project()
    leads = [await world.lead(project) for _ in range(3)]
    operators = [await world.operator() for _ in leads]
    for op in operators:
        response = await api_client(role=Role.OPERATOR, user_id=op).post(
            "/v1/operators/me/next-task"
        )
        assert response.status_code == 200
    await sql(
        "UPDATE assignment.tasks SET lease_expires_at = now() - interval '1 s' "
        "WHERE tenant_id = :t AND status = 'leased'",
        t=world.tenant_id,
    )
    meet_after(monkeypatch, repository, "expired_leases")

    first, second = await asyncio.gather(jobs.return_expired(), jobs.return_expired())

    ours = [row.id for row in (*first, *second) if row.tenant_id == world.tenant_id]
    task_ids = {(await task_rows(lead))[0].id for lead in leads}
    assert sorted(ours) == sorted(task_ids)  # every lease returned, none twice
    async with session_scope(STAFF) as session:
        ended = await session.execute(
            text(
                "SELECT outcome, count(*) FROM assignment.assignments "
                "WHERE tenant_id = :t GROUP BY outcome"
            ),
            {"t": world.tenant_id},
        )
        states = await session.scalars(
            text("SELECT state FROM assignment.operators WHERE id = ANY(:ops)"),
            {"ops": operators},
        )
        assert dict(ended.all()) == {"expired": 3}
        assert set(states) == {"available"}


async def test_two_roll_overs_move_each_closed_window_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await world.project()
    leads = [await world.lead(project) for _ in range(3)]
    await sql(
        "UPDATE assignment.tasks SET next_allowed_at = now() - interval '2 h', "
        "window_closes_at = now() - interval '1 h' WHERE tenant_id = :t",
        t=world.tenant_id,
    )
    meet_after(monkeypatch, repository, "window_closed")
    changed: list[Any] = []
    retime = repository.retime

    async def recorded(*args: Any, **kwargs: Any) -> list[repository.Retimed]:
        done = await retime(*args, **kwargs)
        changed.extend(done)
        return done

    monkeypatch.setattr(repository, "retime", recorded)

    async def roll() -> int:
        async with session_scope(STAFF) as session:
            return await tasks.roll_windows(session)

    await asyncio.gather(roll(), roll())

    ours = [t.id for t in changed if t.tenant_id == world.tenant_id]
    task_ids = {(await task_rows(lead))[0].id for lead in leads}
    assert sorted(ours) == sorted(task_ids)  # every task moved on, none twice
    for lead in leads:
        [row] = await task_rows(lead)
        assert row.window_closes_at > datetime.now(UTC)
