from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.tenants.models import Tenant
from services.onboarding.webhooks import WEBHOOK_ROUTE_HANDLERS
from shared.auth.api_keys import generate_api_key
from shared.auth.tokens import issue_access_token
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.http.app import create_service_app
from shared.ids import new_id
from tests.onboarding.webhooks.receiver import Receiver


@pytest.fixture
async def make_tenant() -> Callable[[], Awaitable[uuid.UUID]]:
    async def make() -> uuid.UUID:
        tenant_id = new_id()
        async with session_scope(STAFF) as session:
            session.add(
                Tenant(
                    id=tenant_id,
                    slug=f"t-{tenant_id.hex[:12]}",
                    name="Test tenant",
                    legal_name="Test tenant LLC",
                    inn="".join(random.choice("0123456789") for _ in range(12)),
                    billing_email="billing@example.com",
                    tax_rate_bp=2000,
                    status="active",
                )
            )
        return tenant_id

    return make


@pytest.fixture
async def tenant_id(make_tenant) -> uuid.UUID:
    return await make_tenant()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def app():
    return create_service_app("onboarding", WEBHOOK_ROUTE_HANDLERS)


def bearer(role: Role, tenant_id: uuid.UUID | None) -> dict[str, str]:
    token, _ = issue_access_token(user_id=new_id(), role=role, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {token}"}


async def api_key_headers(tenant_id: uuid.UUID, scopes: list[str]) -> dict[str, str]:
    new = generate_api_key()
    async with session_scope(STAFF) as session:
        session.add(
            ApiKey(
                tenant_id=tenant_id,
                id=new_id(),
                name="test key",
                prefix=new.prefix,
                key_hash=new.key_hash,
                scopes=scopes,
            )
        )
    return {"Authorization": f"Bearer {new.key}"}
