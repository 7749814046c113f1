"""Shared fixtures of the pricing tests (projects, planner, rate card, quotes).

- ``app``: the pricing service app (session-wide; no lifespan, so pools live on).
- ``tenant`` / ``other_tenant``: fresh active tenants in the pricing mirror
  (``pricing.tenants``), as the ``tenant.created`` consumer would write them.
- ``staff_ctx`` / ``staff_client``: an account manager (``admin_client`` for an admin).
- ``client_admin_ctx`` / ``client_admin_client``: a client admin of ``tenant``.
- ``api_client(role=..., tenant_id=...)`` (tests/conftest.py): a client for any caller.

Every client sends a fresh JWT; requests run under the caller's scope as in production.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from litestar import Litestar

import services.pricing.actors  # noqa: F401  (registers the consumers)
from services.pricing.mirrors.tenants import TenantMirror, apply_tenant_facts
from shared.context import Ctx, PrincipalKind, Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.events import TenantCreatedV1
from tests.support.clients import ApiClient


def person(role: Role, tenant_id: uuid.UUID | None = None) -> Ctx:
    return Ctx(kind=PrincipalKind.USER, principal_id=new_id(), role=role, tenant_id=tenant_id)


async def mirror_tenant(
    *, currency: str = "RUB", tax_rate_bp: int = 2000, status: str = "active"
) -> TenantMirror:
    """A tenant in ``pricing.tenants`` with a unique name and INN."""
    tenant_id = new_id()
    async with session_scope(STAFF) as session:
        return await apply_tenant_facts(
            session,
            payload=TenantCreatedV1(
                tenant_id=tenant_id,
                name=f"Tenant {tenant_id.hex[:8]}",
                legal_name=f"OOO Tenant {tenant_id.hex[:8]}",
                inn="".join(random.choice("0123456789") for _ in range(10)),
                currency=currency,
                tax_rate_bp=tax_rate_bp,
                timezone="Europe/Moscow",
                status=status,
            ),
            occurred_at=datetime.now(UTC),
        )


@pytest.fixture(scope="session")
def app() -> Litestar:
    from services.pricing.app import create_app

    return create_app()


@pytest.fixture
async def tenant() -> TenantMirror:
    return await mirror_tenant()


@pytest.fixture
async def other_tenant() -> TenantMirror:
    return await mirror_tenant()


@pytest.fixture
def staff_ctx() -> Ctx:
    return person(Role.ACCOUNT_MANAGER)


@pytest.fixture
def staff_client(api_client: ApiClient) -> httpx.AsyncClient:
    return api_client(role=Role.ACCOUNT_MANAGER)


@pytest.fixture
def admin_client(api_client: ApiClient) -> httpx.AsyncClient:
    return api_client(role=Role.ADMIN)


@pytest.fixture
def client_admin_ctx(tenant: TenantMirror) -> Ctx:
    return person(Role.CLIENT_ADMIN, tenant.id)


@pytest.fixture
def client_admin_client(api_client: ApiClient, tenant: TenantMirror) -> httpx.AsyncClient:
    return api_client(role=Role.CLIENT_ADMIN, tenant_id=tenant.id)
