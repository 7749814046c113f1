"""A single lead takes the insert path its caller names (``alone``), whatever the
session's state: the fast path commits the lead on its own at once, the transactional
path leaves it to the caller's commit (or rollback)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.intake.leads import repository as repo
from services.intake.leads.schemas import LeadInput
from services.intake.leads.service import leads
from shared.context import Ctx, PrincipalKind
from shared.db.session import TenantScope, make_session, session_scope
from shared.ids import new_id
from tests.intake.conftest import World, fresh_phone, rows
from tests.support.clients import ApiClient


def _ctx(world: World) -> Ctx:
    return Ctx(
        kind=PrincipalKind.API_KEY,
        principal_id=new_id(),
        tenant_id=world.id,
        scopes=frozenset({"leads:write"}),
    )


async def _warm_facts(world: World) -> None:
    """Cache the tenant's and project's facts, so ``create`` reads nothing through its session."""
    async with session_scope(TenantScope(world.id)) as session:
        await leads.admit_tenant(session, world.id)
        await leads.admit_project(session, world.id, world.project_id)


async def _stored(lead_id: object) -> bool:
    return bool(await rows("select id from intake.leads where id = :id", id=lead_id))


async def test_alone_commits_the_lead_even_inside_a_transaction(world_a: World) -> None:
    data = LeadInput(project_id=world_a.project_id, phone=fresh_phone())
    session = make_session(TenantScope(world_a.id))
    try:
        await session.execute(text("select 1"))  # the session is in a transaction
        assert session.in_transaction()
        created = await leads.create(session, _ctx(world_a), data, alone=True)
        assert not created.duplicate
        assert await _stored(created.id)  # committed before the caller's commit
        await session.rollback()
    finally:
        await session.close()
    assert await _stored(created.id)  # and the caller's rollback leaves it


async def test_not_alone_joins_the_callers_transaction_even_outside_one(world_a: World) -> None:
    await _warm_facts(world_a)
    data = LeadInput(project_id=world_a.project_id, phone=fresh_phone())
    session = make_session(TenantScope(world_a.id))
    try:
        assert not session.in_transaction()
        created = await leads.create(session, _ctx(world_a), data, alone=False)
        assert not created.duplicate
        assert not await _stored(created.id)  # pending in the caller's transaction
        await session.rollback()
    finally:
        await session.close()
    assert not await _stored(created.id)  # rolled back with it


async def test_a_duplicate_sent_alone_is_settled_as_a_duplicate(world_a: World) -> None:
    data = LeadInput(project_id=world_a.project_id, phone=fresh_phone())
    async with session_scope(TenantScope(world_a.id)) as session:
        first = await leads.create(session, _ctx(world_a), data, alone=True)
    async with session_scope(TenantScope(world_a.id)) as session:
        again = await leads.create(session, _ctx(world_a), data, alone=True)
    assert again.duplicate
    assert again.id == first.id


@pytest.mark.parametrize(("key", "fast"), [(None, True), ("k", False)])
async def test_the_route_takes_the_fast_path_only_without_an_idempotency_key(
    world_a: World,
    api_client: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
    fast: bool,
) -> None:
    """With a key, the lead must commit with the key's record: the transactional path."""
    calls: list[object] = []
    insert_alone = repo.insert_alone

    async def spy(*args: Any, **kwargs: Any) -> repo.InsertOutcome | None:
        calls.append(args)
        return await insert_alone(*args, **kwargs)

    monkeypatch.setattr(repo, "insert_alone", spy)
    headers = {"Idempotency-Key": f"{key}-{uuid.uuid4()}"} if key else {}
    client = api_client(token=world_a.key_text)
    body = {"project_id": str(world_a.project_id), "phone": fresh_phone()}
    r = await client.post("/v1/leads", json=body, headers=headers)
    assert r.status_code == 201
    assert bool(calls) is fast
    assert await _stored(uuid.UUID(r.json()["id"]))
