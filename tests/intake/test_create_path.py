"""A single lead takes the insert path its caller names (``alone``), whatever the
session's state: the fast path commits the lead on its own at once, the transactional
path leaves it to the caller's commit (or rollback)."""

from __future__ import annotations

from sqlalchemy import text

from services.intake.leads.schemas import LeadInput
from services.intake.leads.service import leads
from shared.context import Ctx, PrincipalKind
from shared.db.session import TenantScope, make_session, session_scope
from shared.ids import new_id
from tests.intake.conftest import World, fresh_phone, rows


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
