"""Stripe fixtures: localstripe on 127.0.0.1, billing customers, issued invoices, signing.

localstripe is started once per session by :mod:`tests.billing.stripe.localstripe_server`
(its own CLI binds every interface) on a free loopback port; the Stripe settings
point the gateway at it. Nothing here fakes our database, Redis or Stripe's API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, text

import services.billing.actors
import services.onboarding.actors  # noqa: F401  (onboarding's consumers: invoice.*)
from services.billing.invoices.models import Invoice
from services.billing.stripe.controllers import STRIPE_ROUTE_HANDLERS
from services.billing.stripe.gateway import close_gateway
from services.billing.stripe.settings import get_stripe_settings
from services.onboarding.tenants.models import Tenant
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.http.app import create_service_app
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.outbox import OUTBOX, envelope_from_row
from tests.support.factories import jwt_for, make_tenant, make_user

WEBHOOK_SECRET = "whsec_kolokol_test_secret"
API_KEY = "sk_test_kolokol"
SERVER = Path(__file__).with_name("localstripe_server.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"localstripe exited with {proc.returncode}")
        try:
            r = httpx.get(f"{base}/v1/customers", auth=(API_KEY, ""), timeout=1.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("localstripe did not answer in time")


@pytest.fixture(scope="session", autouse=True)
def localstripe() -> Iterator[str]:
    """localstripe's base URL; the Stripe settings point at it for the whole session."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        os.environ.update(
            {
                "KOLOKOL_STRIPE_API_KEY": API_KEY,
                "KOLOKOL_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "KOLOKOL_STRIPE_API_BASE": base,
                "KOLOKOL_STRIPE_MAX_RETRIES": "0",
                "KOLOKOL_STRIPE_TIMEOUT_SECONDS": "10",
            }
        )
        get_stripe_settings.cache_clear()
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        get_stripe_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
async def _close_gateway() -> AsyncIterator[None]:
    yield
    await close_gateway()


def stripe_api(base: str) -> httpx.Client:
    """A plain client on localstripe, to look at what our code created there."""
    return httpx.Client(base_url=base, auth=(API_KEY, ""), timeout=10.0)


# --- app and people -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def app() -> Litestar:
    return create_service_app("billing-stripe-test", STRIPE_ROUTE_HANDLERS)


async def client_admin_headers(tenant_id: uuid.UUID) -> dict[str, str]:
    user = await make_user(Role.CLIENT_ADMIN, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {jwt_for(user)}"}


# --- billing customers and invoices ---------------------------------------------------------


async def deliver_outbox(producer: str, consumer: str, *, tenant_id: uuid.UUID, prefix: str) -> int:
    """Deliver ``producer``'s outbox events of one tenant (types starting with ``prefix``)
    to ``consumer`` through the real inbox consumer path; returns how many applied."""
    outbox = OUTBOX[producer]
    async with session_scope(STAFF) as session:
        rows = (
            await session.execute(
                select(outbox)
                .where(outbox.c.tenant_id == tenant_id, outbox.c.event_type.like(f"{prefix}%"))
                .order_by(outbox.c.created_at, outbox.c.id)
            )
        ).all()
    applied = 0
    for row in rows:
        applied += int(await deliver(consumer, envelope_from_row(row)))
    return applied


async def billing_tenant() -> Tenant:
    """An active tenant that billing knows (its ``tenant.*`` events applied)."""
    tenant = await make_tenant()
    await deliver_outbox("onboarding", "billing", tenant_id=tenant.id, prefix="tenant.")
    return tenant


_periods = iter(range(1, 100_000))


async def issued_invoice(
    tenant_id: uuid.UUID,
    *,
    subtotal: int = 1_000_000,
    tax: int = 200_000,
    currency: str = "RUB",
    issued_at: datetime | None = None,
    due_at: datetime | None = None,
) -> Invoice:
    """An issued invoice as the billing run leaves it (a unique period and number)."""
    n = next(_periods)
    start = date(1990 + n // 12, n % 12 + 1, 1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    issued_at = issued_at or datetime.now(UTC)
    invoice = Invoice(
        tenant_id=tenant_id,
        id=new_id(),
        number=f"KK-1999-{random.randrange(10**9):09d}",
        status="issued",
        currency=currency,
        tax_rate_bp=2000,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        period_start=start,
        period_end=end,
        issued_at=issued_at,
        due_at=due_at or issued_at,
    )
    async with session_scope(STAFF) as session:
        session.add(invoice)
    return invoice


async def load_invoice(invoice_id: uuid.UUID) -> Invoice:
    async with session_scope(STAFF) as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id))
    assert invoice is not None
    return invoice


async def attempts(invoice_id: uuid.UUID) -> list[dict[str, Any]]:
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text(
                "select attempt, status, payment_intent_id, error, completed_at"
                " from billing.payment_attempts where invoice_id = :id order by attempt"
            ),
            {"id": invoice_id},
        )
        return [dict(r) for r in rows.mappings()]


async def billing_events(event_type: str, invoice_id: uuid.UUID) -> list[dict[str, Any]]:
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text(
                "select * from billing.outbox where event_type = :t"
                " and payload->>'invoice_id' = :id order by created_at"
            ),
            {"t": event_type, "id": str(invoice_id)},
        )
        return [dict(r) for r in rows.mappings()]


# --- Stripe's webhook signature -------------------------------------------------------------


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """``Stripe-Signature`` for ``body``: ``t=<ts>,v1=<hex hmac_sha256(secret, "t.body")>``."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def pi_event(
    event_type: str,
    *,
    invoice: Invoice,
    attempt: int,
    payment_intent_id: str,
    created: int,
    event_id: str | None = None,
) -> bytes:
    """A ``payment_intent.*`` event body as Stripe sends it (the fields we read)."""
    succeeded = event_type == "payment_intent.succeeded"
    obj: dict[str, Any] = {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": invoice.total,
        "amount_received": invoice.total if succeeded else 0,
        "currency": invoice.currency.lower(),
        "status": "succeeded" if succeeded else "requires_payment_method",
        "metadata": {
            "invoice_id": str(invoice.id),
            "tenant_id": str(invoice.tenant_id),
            "attempt": str(attempt),
        },
        "last_payment_error": None
        if succeeded
        else {"code": "card_declined", "message": "Your card was declined."},
    }
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()
