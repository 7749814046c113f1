"""Onboarding's event consumers (actors ``onboarding.on_invoice_overdue`` / ``_paid``).

Each runs in a staff-scoped transaction once per event id (the inbox); both also
reload the tenant and act only from the state they expect, so a late or repeated
event changes nothing.

The worker imports ``services.<name>.actors`` per service, so this module also
imports the webhook consumers (``services.onboarding.webhooks.actors``).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import services.onboarding.webhooks.actors  # noqa: F401  (registers webhook consumers)
from services.onboarding.tenants.service import tenants
from shared.context import SYSTEM
from shared.messaging.consumers import on_event
from shared.messaging.events import Envelope

log = structlog.get_logger(__name__)


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
