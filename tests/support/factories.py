"""Factories any test may use: tenants, users, API keys, tokens.

They go through the onboarding service (so rows, events and audit entries are what
production writes) under the system context, each in its own committed transaction.
Emails and INNs are unique per call, so tests sharing one database never collide.

    tenant = await make_tenant()
    admin = await make_user(Role.CLIENT_ADMIN, tenant_id=tenant.id)
    client = api_client(user=admin)  # the fixture of tests/support/clients.py
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from sqlalchemy import text

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.api_keys.service import api_keys
from services.onboarding.tenants import rules
from services.onboarding.tenants.models import Tenant
from services.onboarding.tenants.schemas import TenantCreate
from services.onboarding.tenants.service import tenants
from services.onboarding.users.models import User
from services.onboarding.users.service import users
from shared.auth.scopes import API_KEY_SCOPES
from shared.auth.tokens import issue_access_token
from shared.context import SYSTEM, Role
from shared.db.session import STAFF, session_scope

DEFAULT_PASSWORD = "correct-horse-battery"
ALL_SCOPES = API_KEY_SCOPES


def random_inn() -> str:
    """A fresh company INN with valid check digits (region 77 or 50)."""
    return rules.inn_with_check_digits(
        random.choice(("77", "50")) + f"{random.randrange(10**7):07d}"
    )


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


async def make_tenant(
    *, status: str = "active", name: str | None = None, currency: str = "RUB"
) -> Tenant:
    """A tenant in ``status`` (pending, active, suspended or closed)."""
    async with session_scope(STAFF) as session:
        tenant = await tenants.create(
            session,
            SYSTEM,
            TenantCreate(
                name=name or f"Tenant {uuid.uuid4().hex[:8]}",
                legal_name="ООО «Тест»",  # noqa: RUF001
                inn=random_inn(),
                billing_email=unique_email("billing"),
                currency=currency,
            ),
        )
        path = {
            "pending": [],
            "active": ["activate"],
            "suspended": ["activate", "suspend"],
            "closed": ["close"],
        }[status]
        for verb in path:
            tenant = await tenants.change_status(session, SYSTEM, tenant.id, verb, "test")
    return tenant


async def make_user(
    role: Role,
    *,
    tenant_id: uuid.UUID | None = None,
    password: str = DEFAULT_PASSWORD,
    email: str | None = None,
    skills: Sequence[str] = (),
) -> User:
    async with session_scope(STAFF) as session:
        return await users.ensure(
            session,
            SYSTEM,
            email=email or unique_email(role.value),
            name=f"Test {role.value}",
            role=role,
            password=password,
            tenant_id=tenant_id,
            skills=skills,
        )


async def make_api_key(
    tenant: Tenant, *, scopes: Sequence[str] = ALL_SCOPES, name: str = "test"
) -> tuple[ApiKey, str]:
    """A key row and its full text."""
    async with session_scope(STAFF) as session:
        return await api_keys.issue(session, SYSTEM, tenant, name, scopes)


def jwt_for(user: User) -> str:
    token, _ = issue_access_token(user_id=user.id, role=Role(user.role), tenant_id=user.tenant_id)
    return token


async def ensure_token_user(user_id: uuid.UUID, role: Role, tenant_id: uuid.UUID | None) -> None:
    """Make the user a test's token names real (tokens for unknown users are refused):
    an active user with this id and role, and its tenant when onboarding has none yet
    (other services' tests make tenants in their own mirrors). Idempotent."""
    async with session_scope(STAFF) as session:
        if tenant_id is not None:
            await session.execute(
                text(
                    "insert into onboarding.tenants"
                    " (id, slug, name, legal_name, inn, billing_email, status)"
                    " values (:id, :slug, 'Test tenant', 'Test tenant', :inn, :email, 'active')"
                    " on conflict do nothing"
                ),
                {
                    "id": tenant_id,
                    "slug": f"t-{tenant_id.hex}",
                    "inn": random_inn(),
                    "email": unique_email("billing"),
                },
            )
        await session.execute(
            text(
                "insert into onboarding.users (id, tenant_id, email, name, role, password_hash)"
                " values (:id, :tenant_id, :email, 'Test caller', :role, '!')"
                " on conflict (id) do nothing"
            ),
            {
                "id": user_id,
                "tenant_id": tenant_id,
                "email": unique_email(role.value),
                "role": role.value,
            },
        )
