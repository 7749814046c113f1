"""Consumers: an overdue invoice suspends an active tenant; payment resumes it."""

from __future__ import annotations

import uuid

import services.onboarding.actors  # noqa: F401  (registers the handlers)
from services.onboarding.tenants.models import Tenant
from shared.db.session import STAFF, session_scope
from shared.messaging.consumers import deliver, registered_actors
from shared.messaging.events import new_event
from tests.onboarding.conftest import outbox_events
from tests.support.factories import make_tenant


async def status_of(tenant_id: uuid.UUID) -> tuple[str, str | None]:
    async with session_scope(STAFF) as session:
        tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None
    return tenant.status, tenant.status_reason


def invoice_event(kind: str, tenant_id: uuid.UUID):
    return new_event(f"invoice.{kind}", tenant_id=tenant_id, payload={"invoice_id": uuid.uuid4()})


def test_actors_are_named_after_the_events() -> None:
    actors = registered_actors()
    assert actors["onboarding.on_invoice_overdue"] == "onboarding"
    assert actors["onboarding.on_invoice_paid"] == "onboarding"


async def test_overdue_suspends_then_paid_resumes() -> None:
    tenant = await make_tenant(status="active")
    overdue = invoice_event("overdue", tenant.id)
    assert await deliver("onboarding", overdue)
    assert await status_of(tenant.id) == ("suspended", "invoice_overdue")
    assert not await deliver("onboarding", overdue)  # a redelivery is ignored
    assert await deliver("onboarding", invoice_event("paid", tenant.id))
    assert await status_of(tenant.id) == ("active", "invoice_paid")
    events = await outbox_events("tenant.status_changed", tenant_id=str(tenant.id))
    assert [(e["payload"]["to_status"], e["payload"]["reason"]) for e in events][-2:] == [
        ("suspended", "invoice_overdue"),
        ("active", "invoice_paid"),
    ]


async def test_paid_does_not_resume_a_manual_suspension() -> None:
    tenant = await make_tenant(status="suspended")  # reason "test", by staff
    await deliver("onboarding", invoice_event("paid", tenant.id))
    assert await status_of(tenant.id) == ("suspended", "test")


async def test_overdue_leaves_pending_and_closed_alone() -> None:
    for status in ("pending", "closed"):
        tenant = await make_tenant(status=status)
        await deliver("onboarding", invoice_event("overdue", tenant.id))
        assert (await status_of(tenant.id))[0] == status


async def test_unknown_tenant_is_ignored() -> None:
    assert await deliver("onboarding", invoice_event("overdue", uuid.uuid4()))
