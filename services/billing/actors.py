"""Billing's actors (queue ``billing``): the event consumers and the Stripe actors.

Event consumers (each runs once per event id, in a staff transaction):

- ``tenant.*`` → the customer mirror; a tenant closing ends its plans.
- ``quote.accepted`` → the project's price plan and its pending one-off fees.
- ``usage.recorded`` → one usage ledger row per ``usage_id``.
- ``project.updated`` → a closed project's plans end (its monthly fee is pro-rated).
- ``lead.stage_changed`` → a won deal counted for the cost-per-deal report.

A handler that needs the customer and does not find it raises
:class:`~services.billing.errors.CustomerNotMirrored`; the broker retries the event
after ``tenant.created`` has landed.

Stripe actors (each reloads state and is safe to run twice):

- ``billing.process_stripe_event(event_id)``: apply one stored Stripe event (sent
  after the webhook's transaction commits; the sweep job covers lost messages).
- ``billing.charge_tenant(tenant_id)``: charge a tenant's unpaid invoices now (sent
  after the tenant saves a new payment method).
"""

from __future__ import annotations

import uuid
from typing import cast

import dramatiq
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.mirrors.customers import apply_tenant_facts
from services.billing.plans.service import apply_quote_accepted, end_plans, end_project_plans
from services.billing.stripe import payments, webhooks
from services.billing.usage.deals import WON, record_won_deal
from services.billing.usage.service import record_usage
from shared.messaging.broker import get_broker
from shared.messaging.consumers import on_event
from shared.messaging.events import (
    Envelope,
    LeadStageChangedV1,
    ProjectUpdatedV1,
    QuoteAcceptedV1,
    TenantStatusChangedV1,
    UsageRecordedV1,
    decode_payload,
)
from shared.mirrors.tenants import TENANT_EVENTS, tenant_payload

log = structlog.get_logger(__name__)

# --- event consumers ------------------------------------------------------------------


def _tenant(event: Envelope) -> uuid.UUID:
    if event.tenant_id is None:
        raise ValueError(f"{event.type} {event.id} carries no tenant_id")
    return event.tenant_id


@on_event("billing", *TENANT_EVENTS)
async def on_tenant_event(session: AsyncSession, event: Envelope) -> None:
    payload = tenant_payload(event)
    customer = await apply_tenant_facts(session, payload=payload, occurred_at=event.occurred_at)
    if isinstance(payload, TenantStatusChangedV1) and payload.to_status == "closed":
        await end_plans(session, tenant_id=customer.id, at=event.occurred_at)


@on_event("billing", "quote.accepted")
async def on_quote_accepted(session: AsyncSession, event: Envelope) -> None:
    payload = cast(QuoteAcceptedV1, decode_payload(event))
    await apply_quote_accepted(
        session, tenant_id=_tenant(event), payload=payload, occurred_at=event.occurred_at
    )


@on_event("billing", "usage.recorded")
async def on_usage_recorded(session: AsyncSession, event: Envelope) -> None:
    payload = cast(UsageRecordedV1, decode_payload(event))
    await record_usage(
        session,
        tenant_id=_tenant(event),
        usage_id=payload.usage_id,
        project_id=payload.project_id,
        metric=payload.metric,
        quantity=payload.quantity,
        recorded_at=payload.recorded_at or event.occurred_at,
        source_id=payload.source_id,
    )


@on_event("billing", "project.updated")
async def on_project_updated(session: AsyncSession, event: Envelope) -> None:
    payload = cast(ProjectUpdatedV1, decode_payload(event))
    if payload.status == "closed":
        await end_project_plans(
            session,
            tenant_id=_tenant(event),
            project_id=payload.project_id,
            at=event.occurred_at,
        )


@on_event("billing", "lead.stage_changed")
async def on_lead_stage_changed(session: AsyncSession, event: Envelope) -> None:
    payload = cast(LeadStageChangedV1, decode_payload(event))
    if payload.to_stage != WON:
        return
    await record_won_deal(
        session,
        tenant_id=_tenant(event),
        lead_id=payload.lead_id,
        project_id=payload.project_id,
        won_at=payload.changed_at or event.occurred_at,
        deal_value=payload.deal_value,
        currency=payload.currency,
    )


# --- stripe: applying webhooks, charging ----------------------------------------------


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
