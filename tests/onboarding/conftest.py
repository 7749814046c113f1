"""Onboarding fixtures: the app, two tenants (A and B) with their people and keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.app import create_app
from services.onboarding.tenants.models import Tenant
from services.onboarding.users.models import User
from shared.context import Role
from shared.db.session import STAFF, session_scope
from tests.support.factories import make_api_key, make_tenant, make_user


@pytest.fixture(scope="session")
def app() -> Litestar:
    return create_app()


@dataclass
class TenantWorld:
    """One tenant and its people: a client admin, a client user, an API key."""

    tenant: Tenant
    admin: User
    user: User
    key: ApiKey
    key_text: str

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


async def make_world() -> TenantWorld:
    tenant = await make_tenant()
    admin = await make_user(Role.CLIENT_ADMIN, tenant_id=tenant.id)
    user = await make_user(Role.CLIENT_USER, tenant_id=tenant.id)
    key, text_ = await make_api_key(tenant)
    return TenantWorld(tenant=tenant, admin=admin, user=user, key=key, key_text=text_)


@pytest.fixture(scope="session")
async def world_a() -> TenantWorld:
    """Shared by every test (argon2 makes people slow to create): never change it."""
    return await make_world()


@pytest.fixture(scope="session")
async def world_b() -> TenantWorld:
    """Shared by every test, like ``world_a``: never change it."""
    return await make_world()


@pytest.fixture(scope="session")
async def staff() -> dict[Role, User]:
    return {
        role: await make_user(role) for role in (Role.ADMIN, Role.ACCOUNT_MANAGER, Role.OPERATOR)
    }


async def outbox_events(event_type: str, **payload_match: str) -> list[dict[str, Any]]:
    """Rows of ``onboarding.outbox`` of one type whose payload has the given values."""
    async with session_scope(STAFF) as session:
        rows = (
            (
                await session.execute(
                    text(
                        "select * from onboarding.outbox where event_type = :t order by occurred_at"
                    ),
                    {"t": event_type},
                )
            )
            .mappings()
            .all()
        )
    return [
        dict(r)
        for r in rows
        if all(str(r["payload"].get(k)) == v for k, v in payload_match.items())
    ]


async def audit_entries(entity_id: uuid.UUID) -> list[dict[str, Any]]:
    async with session_scope(STAFF) as session:
        rows = (
            (
                await session.execute(
                    text("select * from platform.audit_log where entity_id = :id order by at"),
                    {"id": entity_id},
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]
