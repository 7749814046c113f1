"""The single route's fast path: ``insert_alone`` stores a new lead in one statement of
its own (lead with who sent it, ``lead.received`` outbox row, all committed), and
leaves a colliding lead untouched for the transactional path to settle."""

from __future__ import annotations

import asyncpg
import pytest

from services.intake.leads import repository as repo
from services.intake.leads.normalise import NormalisedLead, phone_hash
from shared.db.session import driver_connection
from tests.intake.conftest import World, fresh_phone, rows


def _e164(spaced: str) -> str:
    return spaced.replace(" ", "")


def _lead(phone: str) -> NormalisedLead:
    return NormalisedLead(
        phone_e164=phone,
        phone_hash=phone_hash(phone),
        timezone="Europe/Moscow",
        timezone_certain=True,
        source="site",
        utm={"utm_source": "ads"},
    )


async def test_a_new_lead_is_committed_with_its_history_and_event(world_a: World) -> None:
    phone = _e164(fresh_phone())
    outcome = await repo.insert_alone(world_a.id, world_a.project_id, _lead(phone), actor="t")
    assert outcome is not None
    assert outcome.created
    (lead,) = await rows(
        "select tenant_id, project_id, phone_e164, utm, fields, keyed, received_by"
        " from intake.leads"
        " where id = :id",
        id=outcome.lead_id,
    )
    assert (lead["tenant_id"], lead["project_id"]) == (world_a.id, world_a.project_id)
    assert lead["utm"] == {"utm_source": "ads"}
    assert lead["fields"] is None
    assert lead["keyed"]
    assert lead["received_by"] == "t"
    history = await rows(
        "select kind from intake.lead_history where lead_id = :id", id=outcome.lead_id
    )
    assert history == []  # ``received`` is the lead row's own fact
    (event,) = await rows(
        "select tenant_id, payload from intake.outbox where event_type = 'lead.received'"
        " and payload ->> 'lead_id' = :id",
        id=str(outcome.lead_id),
    )
    assert event["tenant_id"] == world_a.id
    assert event["payload"]["phone"] == phone


async def test_a_colliding_lead_writes_nothing(world_a: World) -> None:
    phone = _e164(fresh_phone())
    first = await repo.insert_alone(world_a.id, world_a.project_id, _lead(phone), actor="t")
    assert first is not None
    again = await repo.insert_alone(world_a.id, world_a.project_id, _lead(phone), actor="t")
    assert again is None
    leads = await rows("select id from intake.leads where phone_e164 = :p", p=phone)
    assert [r["id"] for r in leads] == [first.lead_id]


async def test_another_tenants_project_is_refused_and_nothing_written(
    world_a: World, world_b: World
) -> None:
    phone = _e164(fresh_phone())
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="is not tenant"):
        await repo.insert_alone(world_a.id, world_b.project_id, _lead(phone), actor="t")
    assert await rows("select id from intake.leads where phone_e164 = :p", p=phone) == []


async def test_the_app_role_cannot_delete_a_project_or_move_its_key(world_a: World) -> None:
    async with driver_connection() as conn:
        await conn.execute("SET app.scope = 'staff'")
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "DELETE FROM intake.projects WHERE tenant_id = $1 AND id = $2",
                    world_a.id,
                    world_a.project_id,
                )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "UPDATE intake.projects SET id = gen_random_uuid()"
                    " WHERE tenant_id = $1 AND id = $2",
                    world_a.id,
                    world_a.project_id,
                )
        finally:
            await conn.execute("RESET app.scope")
