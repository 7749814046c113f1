"""Intake fixtures: the app, tenants A and B mirrored into intake, projects, clients.

Tenants are made through onboarding (the real rows and events); their ``tenant.*``
events are then delivered to intake's consumers as the relay would. Projects are
mirrored from ``project.updated`` events built here (pricing's own flow to an active
project is pricing's to test).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text

import services.intake.actors  # noqa: F401  (registers the consumers)
from services.intake.app import create_app
from services.intake.mirrors.projects import forget_project
from services.intake.mirrors.tenants import forget_tenant
from services.onboarding.tenants.models import Tenant
from services.pricing.projects.defaults import default_settings
from services.pricing.projects.settings import ProjectKind
from shared.auth.standing import forget_standing
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, ProjectUpdatedV1, new_event
from shared.messaging.outbox import envelope_from_row
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user


@pytest.fixture(scope="session")
def app() -> Litestar:
    return create_app()


async def mirror_tenant(tenant_id: uuid.UUID) -> None:
    """Deliver the tenant's ``tenant.*`` events from onboarding's outbox to intake."""
    async with session_scope(STAFF) as session:
        rows = (
            await session.execute(
                text(
                    "select * from onboarding.outbox where event_type like 'tenant.%'"
                    " and tenant_id = :t order by occurred_at, id"
                ),
                {"t": tenant_id},
            )
        ).all()
    for row in rows:
        await deliver("intake", envelope_from_row(row))
    forget_tenant(tenant_id)


async def make_project(
    tenant_id: uuid.UUID, *, status: str = "active", revision: int = 1, **settings: Any
) -> uuid.UUID:
    project_id = settings.pop("project_id", None) or uuid.uuid4()
    await deliver("intake", project_event(tenant_id, project_id, status, revision, **settings))
    return project_id


def project_event(
    tenant_id: uuid.UUID, project_id: uuid.UUID, status: str, revision: int, **overrides: Any
) -> Envelope:
    """A ``project.updated`` as pricing sends it: the whole settings tree of the kind's
    defaults with ``overrides`` (``phone_region``, ``timezone``, ``dedupe_window_days``…)."""
    settings = {**default_settings(ProjectKind.OUTBOUND_FIRST_CALL), **overrides}
    payload = ProjectUpdatedV1(
        project_id=project_id,
        revision=revision,
        settings_version=revision,
        status=status,
        kind="outbound_first_call",
        settings=settings,
    )
    forget_project((tenant_id, project_id))
    return new_event("project.updated", tenant_id=tenant_id, payload=payload)


@dataclass
class World:
    tenant: Tenant
    key_text: str
    user_token: str
    admin_token: str
    project_id: uuid.UUID

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


async def make_world(*, status: str = "active") -> World:
    tenant = await make_tenant(status=status)
    user = await make_user(Role.CLIENT_USER, tenant_id=tenant.id)
    admin = await make_user(Role.CLIENT_ADMIN, tenant_id=tenant.id)
    _, key_text = await make_api_key(tenant)
    await mirror_tenant(tenant.id)
    project_id = await make_project(tenant.id, timezone="Asia/Yekaterinburg")
    async with session_scope(STAFF) as session:
        await session.execute(
            text("update onboarding.tenants set rate_per_second = 10000 where id = :id"),
            {"id": tenant.id},
        )
    forget_standing(tenant.id)
    return World(tenant, key_text, jwt_for(user), jwt_for(admin), project_id)


@pytest.fixture(scope="session")
async def world_a() -> World:
    return await make_world()


@pytest.fixture(scope="session")
async def world_b() -> World:
    return await make_world()


@pytest.fixture(scope="session")
async def staff_token() -> str:
    return jwt_for(await make_user(Role.ADMIN))


_counter = iter(range(10**9))


def fresh_phone() -> str:
    """A valid Russian mobile number never used before in this run."""
    n = next(_counter)
    return f"+7 916 {uuid.uuid4().int % 900 + 100:03d} {n % 10000:04d}"


def fresh_landline() -> str:
    """A valid Moscow landline (maps to exactly one zone)."""
    return f"+7 495 {uuid.uuid4().int % 900 + 100:03d} {next(_counter) % 10000:04d}"


async def rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    async with session_scope(STAFF) as session:
        result = await session.execute(text(sql), params)
        return [dict(r) for r in result.mappings().all()]
