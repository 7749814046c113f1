"""Onboarding's actors (queue ``onboarding``).

Tenants: ``onboarding.on_invoice_overdue`` / ``_paid`` run in a staff-scoped
transaction once per event id (the inbox); both also reload the tenant and act only
from the state they expect, so a late or repeated event changes nothing.

Webhooks: ``on_webhook_event`` consumes every event a tenant may subscribe to (the actors
``onboarding.on_<type>``, once per event id) and stores one pending delivery per
matching endpoint, in the consumer's transaction. Once that transaction commits,
``onboarding.deliver_webhook`` is sent for the new deliveries, so the first attempt
happens within moments; anything it misses (a lost message, a crash, a retry) is
picked up by the sweep job ``onboarding.webhook_retries`` from the database.

The webhook consumers are declared first, so that on ``invoice.*`` they run before
the tenant's handlers (the order they always had).
"""

from __future__ import annotations

import uuid

import dramatiq
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.tenants.service import tenants
from services.onboarding.webhooks.dispatch import deliver_batch
from services.onboarding.webhooks.service import webhooks
from shared.context import SYSTEM
from shared.messaging.after_commit import send_after_commit
from shared.messaging.broker import get_broker
from shared.messaging.consumers import on_event
from shared.messaging.events import WEBHOOK_EVENTS, Envelope

log = structlog.get_logger(__name__)

# --- webhooks: storing and sending deliveries -----------------------------------------


async def deliver_now(delivery_ids: list[str]) -> None:
    """Attempt these deliveries now if they are still due (the sweep covers the rest)."""
    ids = [uuid.UUID(i) for i in delivery_ids]
    counts = await deliver_batch(ids=ids, limit=len(ids))
    log.info("webhook.deliver_actor", **counts)


deliver_webhook = dramatiq.actor(
    actor_name="onboarding.deliver_webhook",
    queue_name="onboarding",
    broker=get_broker(),
    max_retries=0,  # a failed attempt is rescheduled in the database, not by the broker
)(deliver_now)


@on_event("onboarding", *WEBHOOK_EVENTS)
async def on_webhook_event(session: AsyncSession, event: Envelope) -> None:
    """Store the event's webhook deliveries (idempotent per endpoint and event)."""
    created = await webhooks.enqueue_for_event(session, event)
    if created:
        log.info(
            "webhook.deliveries_created",
            event_id=str(event.id),
            event_type=event.type,
            tenant_id=str(event.tenant_id),
            deliveries=len(created),
        )
        send_after_commit(session, deliver_webhook, [str(i) for i in created])


# --- tenants: invoices overdue and paid -----------------------------------------------


@on_event("onboarding", "invoice.overdue")
async def on_invoice_overdue(session: AsyncSession, event: Envelope) -> None:
    """An overdue invoice suspends an active tenant with the reason ``invoice_overdue``."""
    if event.tenant_id is None:
        log.warning("onboarding.invoice_event_without_tenant", event_id=str(event.id))
        return
    changed = await tenants.suspend_for_overdue(session, SYSTEM, event.tenant_id)
    log.info("onboarding.tenant_overdue", tenant_id=str(event.tenant_id), suspended=changed)


@on_event("onboarding", "invoice.paid")
async def on_invoice_paid(session: AsyncSession, event: Envelope) -> None:
    """A paid invoice resumes a tenant suspended for ``invoice_overdue`` (nothing else)."""
    if event.tenant_id is None:
        log.warning("onboarding.invoice_event_without_tenant", event_id=str(event.id))
        return
    changed = await tenants.resume_after_payment(session, SYSTEM, event.tenant_id)
    log.info("onboarding.tenant_paid", tenant_id=str(event.tenant_id), resumed=changed)
