"""Attempting due deliveries: claim (lease) → send → record, each step its own short
transaction, so no transaction stays open while a tenant's server thinks.

Everything lives in the database: a delivery is due when ``next_attempt_at`` has
passed; claiming it moves ``next_attempt_at`` forward by a lease. A process that
dies mid-send loses nothing: the lease runs out and the next sweep sends it again
(at-least-once; receivers deduplicate by ``Kolokol-Event-Id``).

Deliveries of a disabled endpoint are not picked: they wait, and go out (with their
full retry budget if never attempted) when the endpoint is enabled again. There is
no ordering guarantee between events; receivers order by ``occurred_at``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from services.onboarding.webhooks.delivery import WebhookSender
from services.onboarding.webhooks.repository import WAITING, DueDelivery, repository
from services.onboarding.webhooks.service import apply_outcome
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope

log = structlog.get_logger(__name__)

BATCH = 100
MAX_BATCHES = 20
CONCURRENCY = 20


def lease_for(sender: WebhookSender) -> timedelta:
    """Long enough for one attempt (DNS + timeout) to finish before anyone retries it."""
    return timedelta(seconds=2 * sender.settings.webhook_timeout_seconds + 30)


async def _attempt(
    sender: WebhookSender, due: DueDelivery, now: datetime | None, gate: asyncio.Semaphore
) -> str | None:
    async with gate:
        result = await sender.send(
            url=due.url,
            secret=due.secret,
            body=due.body.encode(),
            event_id=due.event_id,
            event_type=due.event_type,
        )
    async with session_scope(STAFF) as session:
        delivery = await repository.get_delivery(session, due.tenant_id, due.id)
        if delivery is None or delivery.status not in WAITING:
            return None  # endpoint deleted meanwhile, or finished by another attempt
        apply_outcome(delivery, result, now or utcnow())
        status = delivery.status
        attempts = delivery.attempts
    log.info(
        "webhook.attempt",
        delivery_id=str(due.id),
        tenant_id=str(due.tenant_id),
        endpoint_id=str(due.endpoint_id),
        event_id=str(due.event_id),
        event_type=due.event_type,
        status=status,
        attempts=attempts,
        status_code=result.status_code,
    )
    return status


async def deliver_batch(
    *,
    now: datetime | None = None,
    limit: int = BATCH,
    ids: Sequence[uuid.UUID] | None = None,
    sender: WebhookSender | None = None,
) -> Counter[str]:
    """Claim up to ``limit`` due deliveries (only ``ids`` when given) and attempt them.

    ``now`` fixes the clock for what is due and for recording (tests move it); the
    signature's timestamp is always the real time. Returns a count per outcome.
    """
    sender = sender or WebhookSender()
    at = now or utcnow()
    async with session_scope(STAFF) as session:
        due = await repository.claim_due(
            session, now=at, lease_until=at + lease_for(sender), limit=limit, ids=ids
        )
    gate = asyncio.Semaphore(CONCURRENCY)
    outcomes = await asyncio.gather(*(_attempt(sender, d, now, gate) for d in due))
    counts: Counter[str] = Counter(o for o in outcomes if o is not None)
    counts["claimed"] = len(due)
    return counts


async def deliver_due(
    *, now: datetime | None = None, sender: WebhookSender | None = None
) -> dict[str, int]:
    """Attempt every delivery due now, batch after batch (bounded), and summarise."""
    total: Counter[str] = Counter()
    for _ in range(MAX_BATCHES):
        counts = await deliver_batch(now=now, sender=sender)
        total.update(counts)
        if counts["claimed"] < BATCH:
            break
    return dict(total)
