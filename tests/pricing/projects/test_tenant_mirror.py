"""The tenant mirror: ``tenant.*`` events through the real consumer path (inbox + handler)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

import services.pricing.actors  # noqa: F401  (registers the handlers)
from services.pricing.errors import TenantNotMirrored
from services.pricing.mirrors.tenants import TenantMirror, get_tenant
from shared.db.session import STAFF, TenantScope, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, new_event

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(event: Envelope, when: datetime) -> Envelope:
    return msgspec.structs.replace(event, occurred_at=when)


def created(tenant_id: uuid.UUID, when: datetime = T0, **extra: object) -> Envelope:
    payload = {
        "tenant_id": tenant_id,
        "slug": f"t-{tenant_id.hex[:8]}",
        "status": "pending",
        "currency": "RUB",
        "timezone": "Asia/Yekaterinburg",
        "tax_rate_bp": 2000,
        "name": "Romashka",
        "legal_name": "OOO Romashka",
        "inn": "7707083893",
        **extra,
    }
    return at(new_event("tenant.created", tenant_id=tenant_id, payload=payload), when)


def updated(tenant_id: uuid.UUID, when: datetime, **fields: object) -> Envelope:
    payload = {"tenant_id": tenant_id, "changed": list(fields), **fields}
    return at(new_event("tenant.updated", tenant_id=tenant_id, payload=payload), when)


def status_changed(tenant_id: uuid.UUID, when: datetime, to: str) -> Envelope:
    payload = {"tenant_id": tenant_id, "from_status": "pending", "to_status": to}
    return at(new_event("tenant.status_changed", tenant_id=tenant_id, payload=payload), when)


async def mirrored(tenant_id: uuid.UUID) -> TenantMirror | None:
    async with session_scope(STAFF) as session:
        return await get_tenant(session, tenant_id)


class TestTenantMirror:
    async def test_created_fills_the_mirror(self) -> None:
        tid = new_id()
        assert await deliver("pricing", created(tid))
        row = await mirrored(tid)
        assert row is not None
        assert (row.name, row.legal_name, row.inn) == ("Romashka", "OOO Romashka", "7707083893")
        assert (row.currency, row.tax_rate_bp, row.timezone, row.status) == (
            "RUB",
            2000,
            "Asia/Yekaterinburg",
            "pending",
        )

    async def test_a_repeated_event_is_applied_once(self) -> None:
        tid = new_id()
        event = created(tid)
        assert await deliver("pricing", event)
        assert not await deliver("pricing", event)
        row = await mirrored(tid)
        assert row is not None
        assert row.version == 1

    async def test_updates_apply_in_time_order_whatever_the_arrival_order(self) -> None:
        tid = new_id()
        await deliver("pricing", created(tid))
        await deliver("pricing", updated(tid, T0 + timedelta(minutes=2), name="Newest"))
        await deliver("pricing", updated(tid, T0 + timedelta(minutes=1), name="Older"))
        row = await mirrored(tid)
        assert row is not None
        assert row.name == "Newest"

    async def test_a_late_profile_update_is_not_lost_behind_a_status_change(self) -> None:
        tid = new_id()
        await deliver("pricing", created(tid))
        await deliver("pricing", status_changed(tid, T0 + timedelta(minutes=2), "active"))
        await deliver("pricing", updated(tid, T0 + timedelta(minutes=1), tax_rate_bp=2200))
        await deliver("pricing", status_changed(tid, T0 + timedelta(minutes=1), "suspended"))
        row = await mirrored(tid)
        assert row is not None
        assert (row.status, row.tax_rate_bp, row.version) == ("active", 2200, 3)

    async def test_a_late_created_does_not_undo_an_update(self) -> None:
        tid = new_id()
        await deliver(
            "pricing",
            updated(
                tid,
                T0 + timedelta(minutes=5),
                name="Renamed",
                legal_name="OOO R",
                inn="7707083893",
                currency="EUR",
                tax_rate_bp=0,
                timezone="Europe/Berlin",
            ),
        )
        await deliver("pricing", created(tid))
        row = await mirrored(tid)
        assert row is not None
        assert (row.name, row.currency, row.status) == ("Renamed", "EUR", "pending")

    async def test_status_for_an_unknown_tenant_waits_for_created(self) -> None:
        tid = new_id()
        event = status_changed(tid, T0, "active")
        with pytest.raises(TenantNotMirrored):
            await deliver("pricing", event)
        await deliver("pricing", created(tid, T0 - timedelta(seconds=1)))
        assert await deliver("pricing", event)  # the broker's retry now succeeds
        row = await mirrored(tid)
        assert row is not None
        assert row.status == "active"

    async def test_a_tenant_sees_only_its_own_row(self) -> None:
        mine, theirs = new_id(), new_id()
        await deliver("pricing", created(mine))
        await deliver("pricing", created(theirs))
        async with session_scope(TenantScope(mine)) as session:
            assert await get_tenant(session, mine) is not None
            assert await get_tenant(session, theirs) is None
