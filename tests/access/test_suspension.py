"""A suspended tenant may read its invoices and pay them, nothing else; a closed one
nothing at all — on every route of the merged document, for its people and its keys
(issue #12, point 5; the rule is :mod:`shared.auth.standing`)."""

from __future__ import annotations

import httpx
import pytest

from kolokol.app import create_combined_app
from services.onboarding.tenants.models import Tenant
from shared.context import Role
from tests.access.walk import call, operations, url_for
from tests.support.clients import ApiClient
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user

PUBLIC = frozenset(
    {
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "POST /v1/auth/token",
        "POST /v1/auth/refresh",
        "POST /v1/auth/logout",
        "POST /v1/stripe/webhook",
    }
)
"""Routes without a caller: a tenant's standing does not apply to them."""

INVOICE_READS = frozenset(
    {
        "GET /v1/invoices",
        "GET /v1/invoices/{invoice_id}",
        "GET /v1/invoices/{invoice_id}/pdf",
        "GET /v1/invoices/{invoice_id}/credit-notes/{note_id}",
    }
)
PAYING = frozenset({"POST /v1/billing/payment-method"})


async def client_of(api_client: ApiClient, tenant: Tenant, who: str) -> httpx.AsyncClient:
    app = create_combined_app()
    if who == "api_key":
        _, key = await make_api_key(tenant)
        return api_client(app, token=key)
    user = await make_user(Role(who), tenant_id=tenant.id)
    return api_client(app, token=jwt_for(user))


@pytest.mark.parametrize(
    ("who", "open_routes"),
    [
        ("client_admin", INVOICE_READS | PAYING),
        ("client_user", INVOICE_READS),  # paying is the client admin's (its role guard)
        ("api_key", INVOICE_READS),
    ],
)
async def test_a_suspended_tenant_reads_and_pays_its_invoices_and_nothing_else(
    api_client: ApiClient, who: str, open_routes: frozenset[str]
) -> None:
    tenant = await make_tenant(status="suspended")
    client = await client_of(api_client, tenant, who)
    answered: set[str] = set()
    for op in operations():
        if op.name in PUBLIC:
            continue
        status = await call(client, op, tenant.id)
        if status != 403:
            answered.add(op.name)
    assert answered == set(open_routes)


async def test_the_refusal_says_the_account_is_suspended(api_client: ApiClient) -> None:
    tenant = await make_tenant(status="suspended")
    client = await client_of(api_client, tenant, "client_admin")
    refused = await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "new"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant_suspended"
    assert "suspended" in refused.json()["detail"]
    assert (await client.get("/v1/invoices")).status_code == 200


@pytest.mark.parametrize("who", ["client_admin", "client_user", "api_key"])
async def test_a_closed_tenant_is_refused_everywhere(api_client: ApiClient, who: str) -> None:
    tenant = await make_tenant(status="closed")
    client = await client_of(api_client, tenant, who)
    for op in operations():
        if op.name in PUBLIC:
            continue
        answer = await client.request(op.method.upper(), url_for(op, tenant.id))
        if who == "api_key":
            assert answer.status_code == 403, op.name
            assert answer.json()["code"] == "tenant_closed", op.name
        else:  # a closed tenant's people hold dead tokens (tests/onboarding/test_sessions.py)
            assert answer.status_code == 401, op.name


async def test_staff_are_not_bound_by_a_tenant_standing(api_client: ApiClient) -> None:
    tenant = await make_tenant(status="suspended")
    staff = api_client(create_combined_app(), token=jwt_for(await make_user(Role.ADMIN)))
    assert (await staff.get(f"/v1/tenants/{tenant.id}")).status_code == 200
    resumed = await staff.post(f"/v1/tenants/{tenant.id}/resume", json={"reason": "paid"})
    assert resumed.status_code == 200, resumed.text
