"""Event-driven webhook delivery.

``on_webhook_event`` consumes every event a tenant may subscribe to (the actors
``onboarding.on_<type>``, once per event id) and stores one pending delivery per
matching endpoint, in the consumer's transaction. Once that transaction commits,
``onboarding.deliver_webhook`` is sent for the new deliveries, so the first attempt
happens within moments; anything it misses (a lost message, a crash, a retry) is
picked up by the sweep job ``onboarding.webhook_retries`` from the database.
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.webhooks.dispatch import deliver_batch
from services.onboarding.webhooks.service import webhooks
from shared.messaging.broker import get_broker
from shared.messaging.consumers import on_event
from shared.messaging.events import WEBHOOK_EVENTS, Envelope

log = structlog.get_logger(__name__)


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


def _send_after_commit(session: AsyncSession, delivery_ids: list[uuid.UUID]) -> None:
    def after_commit(_: Any) -> None:
        try:
            deliver_webhook.send([str(i) for i in delivery_ids])
        except Exception:  # the sweep job delivers them anyway
            log.warning("webhook.enqueue_failed", deliveries=len(delivery_ids), exc_info=True)

    sa_event.listen(session.sync_session, "after_commit", after_commit, once=True)


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
        _send_after_commit(session, created)
