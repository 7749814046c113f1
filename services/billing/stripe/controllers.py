"""Stripe routes: the public webhook and the payment method a tenant pays with.

- ``POST /v1/stripe/webhook`` (public; Stripe signs it): verify the signature on the
  raw body, store the event, answer 200 at once; the actor applies it after commit.
- ``POST /v1/billing/payment-method`` (staff, or the tenant's client admin): attach a
  Stripe payment method (``pm_…``) to the tenant's customer as its default, then
  charge what the tenant owes.
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, Request, post
from litestar.di import Provide
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.actors import charge_tenant, process_stripe_event
from services.billing.errors import GatewayRejected, StripeSignatureInvalid
from services.billing.stripe import gateway, payments, webhooks
from services.billing.stripe.settings import get_stripe_settings
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.errors import ValidationFailed
from shared.http.deps import provide_public_session
from shared.http.openapi import problems
from shared.messaging.after_commit import send_after_commit


class WebhookReceipt(msgspec.Struct):
    received: bool
    duplicate: bool


class PaymentMethodAttach(msgspec.Struct):
    payment_method_id: str
    """A Stripe payment method id (``pm_…``), e.g. from Stripe.js or ``pm_card_visa`` in tests."""
    tenant_id: uuid.UUID | None = None
    """Staff name the tenant; a client admin may omit it (their own tenant)."""


class PaymentMethodOut(msgspec.Struct):
    tenant_id: uuid.UUID
    id: uuid.UUID
    stripe_customer_id: str
    stripe_payment_method_id: str
    brand: str | None
    last4: str | None
    is_default: bool


class StripeWebhookController(Controller):
    path = "/v1/stripe/webhook"
    tags = ["billing"]

    @post(
        "/",
        exclude_from_auth=True,
        dependencies={"session": Provide(provide_public_session)},
        status_code=200,
        operation_id="ReceiveStripeWebhook",
        responses=problems(s400="stripe_signature_invalid"),
    )
    async def receive(self, request: Request, session: AsyncSession) -> WebhookReceipt:
        """Stripe's events: signature checked on the raw body (5 min tolerance), stored
        once by id, applied by a worker. A bad or stale signature is 400."""
        settings = get_stripe_settings()
        raw = await request.body()
        try:
            event = gateway.construct_event(
                raw,
                request.headers.get("stripe-signature"),
                settings.webhook_secret,
                tolerance=settings.webhook_tolerance_seconds,
            )
        except GatewayRejected as exc:
            raise StripeSignatureInvalid(exc.message) from exc
        stored = await webhooks.store_event(session, event)
        if stored:
            send_after_commit(session, process_stripe_event, event.id)
        return WebhookReceipt(received=True, duplicate=not stored)


class PaymentMethodController(Controller):
    path = "/v1/billing/payment-method"
    tags = ["billing"]

    @post(
        "/",
        guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)],
        status_code=200,
        operation_id="AttachPaymentMethod",
        open_while_suspended=True,  # paying what it owes lifts a suspension
        responses=problems(
            s402="payment_method_declined",
            s404="billing_customer_not_found",
            s422="validation, payment_method_rejected",
            s503="payment_provider_unavailable",
        ),
    )
    async def attach(
        self, ctx: Ctx, session: AsyncSession, data: PaymentMethodAttach
    ) -> PaymentMethodOut:
        """Save the payment method as the tenant's default and charge what it owes."""
        tenant_id = ctx.tenant_id if not ctx.is_staff else data.tenant_id
        if tenant_id is None:
            raise ValidationFailed.one("tenant_id", "required", "staff must name the tenant")
        if not data.payment_method_id.startswith("pm_"):
            raise ValidationFailed.one(
                "payment_method_id", "invalid", "a Stripe payment method id starts with pm_"
            )
        method = await payments.attach_payment_method(
            session, ctx, tenant_id, data.payment_method_id
        )
        send_after_commit(session, charge_tenant, str(tenant_id))
        return PaymentMethodOut(
            tenant_id=method.tenant_id,
            id=method.id,
            stripe_customer_id=method.stripe_customer_id,
            stripe_payment_method_id=method.stripe_payment_method_id,
            brand=method.brand,
            last4=method.last4,
            is_default=method.is_default,
        )


STRIPE_ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    StripeWebhookController,
    PaymentMethodController,
]
