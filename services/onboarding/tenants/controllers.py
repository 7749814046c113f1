"""``/v1/tenants``: create, read, list, update, and the lifecycle verbs."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.access import MANAGERS, SCHEMA
from services.onboarding.tenants.models import TenantStatus
from services.onboarding.tenants.schemas import (
    Tenant,
    TenantCreate,
    TenantStatusChange,
    TenantStatusChangeRequest,
    TenantUpdate,
)
from services.onboarding.tenants.service import tenants
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problems
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating, out

_READERS = require_roles(*MANAGERS, Role.CLIENT_ADMIN, Role.CLIENT_USER)
_MANAGERS = require_roles(*MANAGERS)
_ILLEGAL = problems(s409="illegal_transition (with from and to)")


class TenantController(Controller):
    path = "/v1/tenants"
    tags = ["tenants"]

    @post(
        "/",
        guards=[_MANAGERS],
        operation_id="CreateTenant",
        response_headers=created_headers(),
        responses=creating(s409="inn_taken (names the holder), slug_taken"),
    )
    async def create_tenant(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: TenantCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Tenant]:
        """Create a tenant (pending). A duplicate INN is 409 ``inn_taken`` naming its holder.
        Accepts ``Idempotency-Key``."""

        async def make() -> tuple[Tenant, str, uuid.UUID]:
            tenant = await tenants.create(session, ctx, data)
            return out(Tenant, tenant), f"/v1/tenants/{tenant.id}", tenant.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get("/", guards=[_MANAGERS], operation_id="ListTenants")
    async def list_tenants(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        status: TenantStatus | None = None,
    ) -> Page[Tenant]:
        """Tenants, newest first, optionally of one status."""
        rows, cursor = await tenants.list(session, ctx, params=page_params, status=status)
        return Page(items=[out(Tenant, r) for r in rows], next_cursor=cursor)

    @get("/{tenant_id:uuid}", guards=[_READERS], operation_id="GetTenant")
    async def get_tenant(self, ctx: Ctx, session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
        """A tenant; a client user may read only their own (any other id is a 404)."""
        return out(Tenant, await tenants.get(session, ctx, tenant_id))

    @patch(
        "/{tenant_id:uuid}",
        guards=[_MANAGERS],
        operation_id="UpdateTenant",
        responses=problems(s409="inn_taken (names the holder), slug_taken"),
    )
    async def update_tenant(
        self, ctx: Ctx, session: AsyncSession, tenant_id: uuid.UUID, data: TenantUpdate
    ) -> Tenant:
        """Change the given fields only."""
        return out(Tenant, await tenants.update(session, ctx, tenant_id, data))

    @get(
        "/{tenant_id:uuid}/status-changes",
        guards=[_READERS],
        operation_id="ListTenantStatusChanges",
    )
    async def list_status_changes(
        self, ctx: Ctx, session: AsyncSession, tenant_id: uuid.UUID, page_params: PageParams
    ) -> Page[TenantStatusChange]:
        """The tenant's lifecycle history, newest first."""
        rows, cursor = await tenants.status_history(session, ctx, tenant_id, params=page_params)
        return Page(items=[out(TenantStatusChange, r) for r in rows], next_cursor=cursor)

    @post(
        "/{tenant_id:uuid}/activate",
        guards=[_MANAGERS],
        status_code=200,
        operation_id="ActivateTenant",
        responses=_ILLEGAL,
    )
    async def activate(
        self,
        ctx: Ctx,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: TenantStatusChangeRequest,
    ) -> Tenant:
        """pending → active."""
        return await _transition(session, ctx, tenant_id, "activate", data)

    @post(
        "/{tenant_id:uuid}/suspend",
        guards=[_MANAGERS],
        status_code=200,
        operation_id="SuspendTenant",
        responses=_ILLEGAL,
    )
    async def suspend(
        self,
        ctx: Ctx,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: TenantStatusChangeRequest,
    ) -> Tenant:
        """active → suspended."""
        return await _transition(session, ctx, tenant_id, "suspend", data)

    @post(
        "/{tenant_id:uuid}/resume",
        guards=[_MANAGERS],
        status_code=200,
        operation_id="ResumeTenant",
        responses=_ILLEGAL,
    )
    async def resume(
        self,
        ctx: Ctx,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: TenantStatusChangeRequest,
    ) -> Tenant:
        """suspended → active."""
        return await _transition(session, ctx, tenant_id, "resume", data)

    @post(
        "/{tenant_id:uuid}/close",
        guards=[_MANAGERS],
        status_code=200,
        operation_id="CloseTenant",
        responses=_ILLEGAL,
    )
    async def close(
        self,
        ctx: Ctx,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: TenantStatusChangeRequest,
    ) -> Tenant:
        """pending, active or suspended → closed (final)."""
        return await _transition(session, ctx, tenant_id, "close", data)


async def _transition(
    session: AsyncSession,
    ctx: Ctx,
    tenant_id: uuid.UUID,
    verb: str,
    data: TenantStatusChangeRequest,
) -> Tenant:
    tenant = await tenants.change_status(session, ctx, tenant_id, verb, data.reason)
    return out(Tenant, tenant)
