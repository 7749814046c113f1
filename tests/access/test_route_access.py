"""Who gets past the access checks of every route: the whole merged OpenAPI document
walked with each kind of caller, held against the table below.

A new route, or a role list that changes, fails here until the table says so on
purpose. The routes that answer personal data (names, phones, emails of leads,
users, operators and tenants' contacts) are marked in :data:`PERSONAL`; operators in
particular reach no one's personal data but their own and the lead card of the task
they hold (``next-task``) — never a client's leads by paging (issue #12, point 4).
"Admitted" means the access checks let the caller through (tests/access/walk.py);
that a tenant sees only its own rows is tests/db/test_tenancy.py's law.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from kolokol.app import create_combined_app
from shared.auth.standing import forget_standing
from shared.context import CLIENT_ROLES, Role
from shared.db.session import STAFF, session_scope
from tests.access.walk import admitted, call, operations
from tests.support.clients import ApiClient
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user

CALLERS = {
    "A": Role.ADMIN,
    "M": Role.ACCOUNT_MANAGER,
    "O": Role.OPERATOR,
    "CA": Role.CLIENT_ADMIN,
    "CU": Role.CLIENT_USER,
    "K": None,  # an API key of the tenant, with every scope
}

EXPECTED: dict[str, str] = {
    "GET /health": "A M O CA CU K",
    "GET /ready": "A M O CA CU K",
    "GET /metrics": "A M O CA CU K",
    "POST /v1/auth/token": "A M O CA CU K",
    "POST /v1/auth/refresh": "A M O CA CU K",
    "POST /v1/auth/logout": "A M O CA CU K",
    "POST /v1/tenants/{tenant_id}/activate": "A M",
    "POST /v1/tenants/{tenant_id}/close": "A M",
    "GET /v1/tenants": "A M",
    "POST /v1/tenants": "A M",
    "GET /v1/tenants/{tenant_id}": "A M CA CU",
    "PATCH /v1/tenants/{tenant_id}": "A M",
    "GET /v1/tenants/{tenant_id}/status-changes": "A M CA CU",
    "POST /v1/tenants/{tenant_id}/resume": "A M",
    "POST /v1/tenants/{tenant_id}/suspend": "A M",
    "GET /v1/tenants/{tenant_id}/api-keys": "A M CA",
    "POST /v1/tenants/{tenant_id}/api-keys": "A M CA",
    "POST /v1/tenants/{tenant_id}/api-keys/{key_id}/revoke": "A M CA",
    "POST /v1/users/me/password": "A M O CA CU",
    "GET /v1/users": "A M CA",
    "POST /v1/users": "A M CA",
    "POST /v1/users/{user_id}/disable": "A M CA",
    "POST /v1/users/{user_id}/enable": "A M CA",
    "GET /v1/users/me": "A M O CA CU",
    "GET /v1/users/{user_id}": "A M CA",
    "PATCH /v1/users/{user_id}": "A M CA",
    "POST /v1/users/{user_id}/password": "A",
    "GET /v1/tenants/{tenant_id}/webhooks": "A M CA K",
    "POST /v1/tenants/{tenant_id}/webhooks": "A M CA K",
    "GET /v1/tenants/{tenant_id}/webhooks/{endpoint_id}": "A M CA K",
    "DELETE /v1/tenants/{tenant_id}/webhooks/{endpoint_id}": "A M CA K",
    "PATCH /v1/tenants/{tenant_id}/webhooks/{endpoint_id}": "A M CA K",
    "GET /v1/tenants/{tenant_id}/webhooks/{endpoint_id}/deliveries": "A M CA K",
    "POST /v1/tenants/{tenant_id}/webhooks/{endpoint_id}/rotate-secret": "A M CA K",
    "POST /v1/tenants/{tenant_id}/webhooks/{endpoint_id}/test": "A M CA K",
    "GET /v1/audit": "A",
    "POST /v1/projects/{project_id}/close": "A M",
    "GET /v1/projects": "A M CA CU",
    "POST /v1/projects": "A M",
    "GET /v1/projects/{project_id}": "A M CA CU",
    "PATCH /v1/projects/{project_id}": "A M",
    "POST /v1/projects/{project_id}/pause": "A M",
    "POST /v1/projects/{project_id}/resume": "A M",
    "POST /v1/projects/{project_id}/plan": "A M CA CU",
    "GET /v1/rate-card": "A M O CA CU K",
    "POST /v1/rate-card": "A M",
    "GET /v1/rate-card/{item_id}": "A M O CA CU K",
    "PATCH /v1/rate-card/{item_id}": "A M",
    "POST /v1/quotes/{quote_id}/accept": "A M CA",
    "GET /v1/quotes": "A M CA CU",
    "POST /v1/quotes": "A M",
    "GET /v1/quotes/{quote_id}": "A M CA CU",
    "PATCH /v1/quotes/{quote_id}": "A M",
    "GET /v1/quotes/{quote_id}/versions": "A M CA CU",
    "GET /v1/quotes/{quote_id}/pdf": "A M CA CU",
    "POST /v1/quotes/{quote_id}/reject": "A M CA",
    "POST /v1/quotes/{quote_id}/send": "A M",
    "POST /v1/leads/batch": "CA CU K",
    "GET /v1/leads": "A M CA CU K",
    "POST /v1/leads": "CA CU K",
    "GET /v1/leads/{lead_id}": "A M CA CU K",
    "DELETE /v1/leads/{lead_id}": "A CA K",
    "POST /v1/leads/{lead_id}/outcome": "CA CU K",
    "GET /v1/imports": "A M CA CU K",
    "POST /v1/imports": "A M CA CU K",
    "GET /v1/imports/{import_id}": "A M CA CU K",
    "DELETE /v1/imports/{import_id}": "A M CA CU K",
    "GET /v1/imports/{import_id}/errors": "A M CA CU K",
    "GET /v1/operators/me": "O",
    "GET /v1/operators/{operator_id}": "A M",
    "PATCH /v1/operators/{operator_id}": "A M",
    "GET /v1/operators": "A M",
    "GET /v1/operators/{operator_id}/states": "A M",
    "POST /v1/operators/me/next-task": "O",
    "POST /v1/operators/me/state": "O",
    "POST /v1/tasks/bulk": "A M",
    "POST /v1/tasks/{task_id}/complete": "O",
    "POST /v1/tasks/{task_id}/heartbeat": "O",
    "GET /v1/queues": "A M",
    "GET /v1/dnc": "A M CA CU K",
    "POST /v1/dnc": "A M CA CU K",
    "GET /v1/dnc/check": "A M CA CU K",
    "DELETE /v1/dnc/{phone}": "A M CA CU K",
    "POST /v1/invoices/{invoice_id}/credit-notes": "A M",
    "GET /v1/invoices/{invoice_id}/credit-notes/{note_id}": "A M CA CU K",
    "GET /v1/invoices/{invoice_id}": "A M CA CU K",
    "GET /v1/invoices/{invoice_id}/pdf": "A M CA CU K",
    "GET /v1/invoices": "A M CA CU K",
    "POST /v1/invoices/{invoice_id}/void": "A M",
    "POST /v1/billing/runs": "A M",
    "GET /v1/billing/reports/project-costs": "A M CA CU K",
    "GET /v1/billing/reports/revenue": "A M",
    "POST /v1/stripe/webhook": "A M O CA CU K",
    "POST /v1/billing/payment-method": "A M CA",
}
"""Operation → the callers admitted (codes of :data:`CALLERS`)."""

PERSONAL = frozenset(
    {
        "GET /v1/tenants",
        "GET /v1/tenants/{tenant_id}",
        "PATCH /v1/tenants/{tenant_id}",
        "POST /v1/tenants",
        "GET /v1/users",
        "POST /v1/users",
        "GET /v1/users/me",
        "GET /v1/users/{user_id}",
        "PATCH /v1/users/{user_id}",
        "POST /v1/users/{user_id}/disable",
        "POST /v1/users/{user_id}/enable",
        "GET /v1/tenants/{tenant_id}/webhooks/{endpoint_id}/deliveries",
        "GET /v1/leads",
        "GET /v1/leads/{lead_id}",
        "POST /v1/leads/{lead_id}/outcome",
        "GET /v1/imports/{import_id}/errors",
        "GET /v1/operators",
        "GET /v1/operators/{operator_id}",
        "GET /v1/operators/me",
        "PATCH /v1/operators/{operator_id}",
        "POST /v1/operators/me/next-task",
        "GET /v1/dnc",
        "GET /v1/dnc/check",
        "GET /v1/invoices",
        "GET /v1/invoices/{invoice_id}",
        "GET /v1/invoices/{invoice_id}/pdf",
    }
)
"""Operations whose answer carries personal data."""

OPERATOR_OWN = frozenset(
    {"GET /v1/users/me", "GET /v1/operators/me", "POST /v1/operators/me/next-task"}
)
"""The personal data an operator may read: their own profile and their task's lead."""


async def caller(api_client: ApiClient, code: str) -> tuple[uuid.UUID, httpx.AsyncClient]:
    """A fresh active tenant (its rate limit raised for the walk) and a client for ``code``."""
    tenant = await make_tenant()
    async with session_scope(STAFF) as session:
        await session.execute(
            text("update onboarding.tenants set rate_per_second = 10000 where id = :id"),
            {"id": tenant.id},
        )
    forget_standing(tenant.id)
    app = create_combined_app()
    role = CALLERS[code]
    if role is None:
        _, key = await make_api_key(tenant)
        return tenant.id, api_client(app, token=key)
    user = await make_user(role, tenant_id=tenant.id if role in CLIENT_ROLES else None)
    return tenant.id, api_client(app, token=jwt_for(user))


def test_the_table_names_every_operation_of_the_document() -> None:
    assert sorted(EXPECTED) == sorted(op.name for op in operations())
    assert set(EXPECTED) >= PERSONAL


def test_operators_read_no_personal_data_but_their_own_and_their_task() -> None:
    reached = {name for name in PERSONAL if "O" in EXPECTED[name].split()}
    assert reached == OPERATOR_OWN


@pytest.mark.parametrize("code", list(CALLERS))
async def test_every_route_admits_exactly_the_callers_of_the_table(
    api_client: ApiClient, code: str
) -> None:
    tenant_id, client = await caller(api_client, code)
    got = {op.name for op in operations() if admitted(await call(client, op, tenant_id))}
    wanted = {name for name, who in EXPECTED.items() if code in who.split()}
    assert {
        "admitted, not in the table": sorted(got - wanted),
        "refused, the table admits": sorted(wanted - got),
    } == {"admitted, not in the table": [], "refused, the table admits": []}
