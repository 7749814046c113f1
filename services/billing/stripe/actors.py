"""Billing's Stripe actors (queue ``billing``); each reloads state and is safe to run twice.

- ``billing.process_stripe_event(event_id)``: apply one stored Stripe event (sent
  after the webhook's transaction commits; the sweep job covers lost messages).
- ``billing.charge_tenant(tenant_id)``: charge a tenant's unpaid invoices now (sent
  after the tenant saves a new payment method).
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.stripe import payments, webhooks
from shared.messaging.broker import get_broker

log = structlog.get_logger(__name__)


async def _process_stripe_event(event_id: str) -> None:
    await webhooks.process_event(event_id)


async def _charge_tenant(tenant_id: str) -> None:
    outcomes = await payments.charge_outstanding(uuid.UUID(tenant_id))
    log.info("billing.charge_tenant", tenant_id=tenant_id, charged=[o.status for o in outcomes])


process_stripe_event = dramatiq.actor(
    actor_name="billing.process_stripe_event", queue_name="billing", broker=get_broker()
)(_process_stripe_event)

charge_tenant = dramatiq.actor(
    actor_name="billing.charge_tenant",
    queue_name="billing",
    broker=get_broker(),
    max_retries=3,
)(_charge_tenant)


def send_after_commit(session: AsyncSession, actor: dramatiq.Actor[Any, Any], *args: str) -> None:
    """Send ``actor(*args)`` once ``session`` commits (a lost send is swept up later)."""

    def after_commit(_: Any) -> None:
        try:
            actor.send(*args)
        except Exception:
            log.warning("billing.enqueue_failed", actor=actor.actor_name, exc_info=True)

    sa_event.listen(session.sync_session, "after_commit", after_commit, once=True)
