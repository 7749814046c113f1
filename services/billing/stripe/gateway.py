"""The one door to Stripe: the only module in Kolokol that imports ``stripe``.

Everything goes through a :class:`stripe.StripeClient` built from
:mod:`services.billing.stripe.settings`: the API version is pinned
(:data:`STRIPE_API_VERSION`), every request has a timeout and a bounded number of
network retries, and the base address can point at localstripe. Stripe's
exceptions never leave this module: they become the tree in
:mod:`services.billing.errors` (``CardDeclined``, ``GatewayUnavailable``,
``GatewayRejected``).

Every object we create carries an idempotency key derived from our own ids
(``cus-<tenant id>``, ``inv-<invoice id>-<attempt>``), so resending after a timeout
or a crash never creates a second customer or charges twice.

Clients are kept per event loop: the async HTTP pool belongs to the loop that
opened it (the request loop, a worker's loop, the test loop).
"""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import stripe

from services.billing.errors import (
    CardDeclined,
    GatewayError,
    GatewayNotConfigured,
    GatewayRejected,
    GatewayUnavailable,
)
from services.billing.stripe.settings import StripeSettings, get_stripe_settings

STRIPE_API_VERSION = "2026-10-28.endive"
"""The Stripe API version every request is pinned to (the SDK's own, stripe 16.1)."""

T = TypeVar("T")


class CustomerLike(Protocol):
    """What the gateway needs of a billing customer (the tenant mirror)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def billing_email(self) -> str | None: ...
    @property
    def stripe_customer_id(self) -> str | None: ...


class InvoiceLike(Protocol):
    """What the gateway needs of an invoice to charge it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def amount_due(self) -> int: ...
    @property
    def currency(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AttachedPaymentMethod:
    id: str
    customer_id: str
    brand: str | None
    last4: str | None


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """A PaymentIntent as far as we care: its id, state, and what it was for."""

    payment_intent_id: str
    status: str
    amount: int
    currency: str
    metadata: Mapping[str, str]

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class StripeEvent:
    """A verified webhook event, with the raw JSON we store."""

    id: str
    type: str
    created: int
    data_object: dict[str, Any]
    payload: dict[str, Any]


def customer_idempotency_key(tenant_id: uuid.UUID) -> str:
    return f"cus-{tenant_id}"


def charge_idempotency_key(invoice_id: uuid.UUID, attempt: int) -> str:
    return f"inv-{invoice_id}-{attempt}"


def _translate(exc: stripe.StripeError) -> GatewayError:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(error, dict)
    pi = error.get("payment_intent")
    kwargs: dict[str, Any] = {
        "code": exc.code or error.get("code"),
        "http_status": exc.http_status,
        "request_id": exc.request_id,
        "payment_intent_id": pi.get("id") if isinstance(pi, dict) else None,
    }
    message = str(exc.user_message or error.get("message") or type(exc).__name__)
    if isinstance(exc, stripe.CardError):
        return CardDeclined(message, **kwargs)
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return GatewayUnavailable(message, **kwargs)
    if exc.http_status is not None and exc.http_status >= 500:
        return GatewayUnavailable(message, **kwargs)
    if isinstance(exc, stripe.APIError) and exc.http_status is None:
        return GatewayUnavailable(message, **kwargs)
    return GatewayRejected(message, **kwargs)


class Gateway:
    """Stripe operations Kolokol uses, on one :class:`stripe.StripeClient`."""

    def __init__(
        self, settings: StripeSettings, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        self.settings = settings
        self._http = http_client or stripe.HTTPXClient(timeout=settings.timeout_seconds)
        base: dict[str, str | None] = {}
        if settings.api_base:
            base = {"api": settings.api_base, "files": settings.api_base}
        self._client = stripe.StripeClient(
            settings.api_key or "sk_unset",
            stripe_version=STRIPE_API_VERSION,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=settings.max_network_retries,
            http_client=self._http,
        )

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        if not self.settings.enabled:
            raise GatewayNotConfigured("KOLOKOL_STRIPE_API_KEY is not set", code="not_configured")
        try:
            return await op()
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    async def close(self) -> None:
        await self._http.close_async()

    # --- customers and payment methods ---------------------------------------------

    async def ensure_customer(self, customer: CustomerLike) -> str:
        """The tenant's Stripe customer id, creating it once (key ``cus-<tenant id>``)."""
        if customer.stripe_customer_id:
            return customer.stripe_customer_id
        params: dict[str, Any] = {
            "name": customer.name,
            "metadata": {"tenant_id": str(customer.id)},
        }
        if customer.billing_email:
            params["email"] = customer.billing_email
        created = await self._call(
            lambda: self._client.v1.customers.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": customer_idempotency_key(customer.id)},
            )
        )
        return str(created.id)

    async def attach_payment_method(
        self, customer_id: str, payment_method_id: str
    ) -> AttachedPaymentMethod:
        """Attach ``payment_method_id`` to the customer and make it the default."""
        pm = await self._call(
            lambda: self._client.v1.payment_methods.attach_async(
                payment_method_id, params={"customer": customer_id}
            )
        )
        await self._call(
            lambda: self._client.v1.customers.update_async(
                customer_id, params={"invoice_settings": {"default_payment_method": pm.id}}
            )
        )
        card = pm.to_dict().get("card") or {}
        return AttachedPaymentMethod(
            id=str(pm.id),
            customer_id=customer_id,
            brand=card.get("brand"),
            last4=card.get("last4"),
        )

    # --- payments ------------------------------------------------------------------

    async def charge(
        self,
        invoice: InvoiceLike,
        attempt: int,
        *,
        customer_id: str,
        payment_method_id: str,
    ) -> PaymentResult:
        """Charge what the invoice still owes, off-session, confirmed at once.

        Raises :class:`CardDeclined` when the payment method is declined; resending
        the same ``(invoice, attempt)`` returns the same PaymentIntent.
        """
        params: dict[str, Any] = {
            "amount": invoice.amount_due,
            "currency": invoice.currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "confirm": True,
            "off_session": True,
            "metadata": {
                "invoice_id": str(invoice.id),
                "tenant_id": str(invoice.tenant_id),
                "attempt": str(attempt),
            },
        }
        pi = await self._call(
            lambda: self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": charge_idempotency_key(invoice.id, attempt)},
            )
        )
        return _payment_result(pi)

    async def retrieve_payment(self, payment_intent_id: str) -> PaymentResult:
        pi = await self._call(
            lambda: self._client.v1.payment_intents.retrieve_async(payment_intent_id)
        )
        return _payment_result(pi)

    # --- webhooks ------------------------------------------------------------------

    @staticmethod
    def construct_event(
        raw_body: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> StripeEvent:
        """Verify Stripe's signature on the raw body and parse the event.

        Raises :class:`GatewayRejected` (code ``signature_invalid``) for a missing,
        wrong or expired signature, or a body that is not an event.
        """
        if not secret:
            raise GatewayRejected("no webhook secret is configured", code="signature_invalid")
        if not signature_header:
            raise GatewayRejected("no Stripe-Signature header", code="signature_invalid")
        try:
            stripe.WebhookSignature.verify_header(
                raw_body.decode("utf-8"), signature_header, secret, tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise GatewayRejected(str(exc.user_message or exc), code="signature_invalid") from exc
        except UnicodeDecodeError as exc:
            raise GatewayRejected("the body is not UTF-8", code="signature_invalid") from exc
        try:
            payload = json.loads(raw_body)
            data_object = payload["data"]["object"]
            event = StripeEvent(
                id=str(payload["id"]),
                type=str(payload["type"]),
                created=int(payload.get("created") or 0),
                data_object=data_object if isinstance(data_object, dict) else {},
                payload=payload,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise GatewayRejected("the body is not a Stripe event", code="bad_event") from exc
        return event


def _payment_result(pi: Any) -> PaymentResult:
    data = pi.to_dict()
    metadata = data.get("metadata") or {}
    return PaymentResult(
        payment_intent_id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]),
        metadata={str(k): str(v) for k, v in dict(metadata).items()},
    )


_gateways: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Gateway] = (
    weakref.WeakKeyDictionary()
)


def get_gateway() -> Gateway:
    """The running loop's gateway, rebuilt when the settings changed."""
    loop = asyncio.get_running_loop()
    settings = get_stripe_settings()
    gateway = _gateways.get(loop)
    if gateway is None or gateway.settings != settings:
        gateway = Gateway(settings)
        _gateways[loop] = gateway
    return gateway


async def close_gateway() -> None:
    """Close the running loop's HTTP pool (process or test session end)."""
    gateway = _gateways.pop(asyncio.get_running_loop(), None)
    if gateway is not None:
        await gateway.close()


# --- module-level shortcuts (what the rest of billing calls) ----------------------------


async def ensure_customer(customer: CustomerLike) -> str:
    return await get_gateway().ensure_customer(customer)


async def attach_payment_method(customer_id: str, payment_method_id: str) -> AttachedPaymentMethod:
    return await get_gateway().attach_payment_method(customer_id, payment_method_id)


async def charge(
    invoice: InvoiceLike, attempt: int, *, customer_id: str, payment_method_id: str
) -> PaymentResult:
    return await get_gateway().charge(
        invoice, attempt, customer_id=customer_id, payment_method_id=payment_method_id
    )


def construct_event(
    raw_body: bytes, signature_header: str | None, secret: str, tolerance: int = 300
) -> StripeEvent:
    return Gateway.construct_event(raw_body, signature_header, secret, tolerance)
