"""``/v1/leads``: submit (one or a batch), read, list, report an outcome, erase."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.leads.schemas import (
    BatchResult,
    Lead,
    LeadBatch,
    LeadCreate,
    LeadCreated,
    LeadDetail,
    OutcomeReport,
)
from services.intake.leads.service import LeadFilters, lead_view, leads
from services.intake.tenants import limit_for
from shared.auth.guards import Guard, require_roles, require_scope
from shared.context import Ctx, PrincipalKind, Role
from shared.http.deps import current_ctx
from shared.http.idempotency import Outcome, idempotent
from shared.http.pagination import Page, PageParams
from shared.http.ratelimit import enforce_leased

SCHEMA = "intake"
_CLIENTS = (Role.CLIENT_ADMIN, Role.CLIENT_USER)
_STAFF = (Role.ADMIN, Role.ACCOUNT_MANAGER, Role.OPERATOR)
_encode = msgspec.json.Encoder().encode


async def throttle(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The per-API-key token bucket, at the tenant's configured rate (429 when empty)."""
    ctx = current_ctx(connection)
    if ctx is None or ctx.kind is not PrincipalKind.API_KEY or ctx.tenant_id is None:
        return
    await enforce_leased(f"{SCHEMA}:{ctx.principal_id}", await limit_for(ctx.tenant_id))


def _guards(*checks: Guard) -> list[Guard]:
    """The throttle first (a flood is refused before anything else), then ``checks``."""
    return [throttle, *checks]


_WRITE = _guards(require_roles(*_CLIENTS, allow_api_keys=True), require_scope("leads:write"))
_READ = _guards(require_roles(*_CLIENTS, *_STAFF, allow_api_keys=True), require_scope("leads:read"))
_ERASE = _guards(
    require_roles(Role.CLIENT_ADMIN, Role.ADMIN, allow_api_keys=True),
    require_scope("leads:write"),
)


class LeadController(Controller):
    path = "/v1/leads"
    tags = ["leads"]

    @post(
        "/",
        guards=_WRITE,
        operation_id="CreateLead",
        status_code=201,
        responses={
            201: ResponseSpec(LeadCreated, description="A new lead"),
            200: ResponseSpec(LeadCreated, description="A duplicate: the live lead it repeats"),
        },
    )
    async def create_lead(
        self, request: Request[Any, Any, Any], ctx: Ctx, session: AsyncSession, data: LeadCreate
    ) -> Response[bytes]:
        """Submit a lead. 201 with the new lead, or 200 with ``duplicate: true`` and the
        lead it repeats (same phone or external id in the project's dedupe window).
        Accepts ``Idempotency-Key``."""

        async def run() -> Outcome:
            lead = await leads.create(session, ctx, data)
            if lead.duplicate:
                return Outcome(200, _encode(lead), resource_ids=[lead.id])
            location = {"Location": f"/v1/leads/{lead.id}"}
            return Outcome(201, _encode(lead), headers=location, resource_ids=[lead.id])

        return await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)

    @post(
        "/batch",
        guards=_WRITE,
        operation_id="CreateLeadBatch",
        status_code=200,
        responses={
            200: ResponseSpec(BatchResult, description="Per item: created, duplicate, error")
        },
    )
    async def create_batch(
        self, request: Request[Any, Any, Any], ctx: Ctx, session: AsyncSession, data: LeadBatch
    ) -> Response[bytes]:
        """Submit up to 1 000 leads; each is checked on its own and valid ones are kept.
        Accepts ``Idempotency-Key``."""

        async def run() -> Outcome:
            result = await leads.create_batch(session, ctx, data)
            ids = [item.lead_id for item in result.items if item.lead_id is not None]
            return Outcome(200, _encode(result), resource_ids=ids)

        return await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)

    @get("/", guards=_READ, operation_id="ListLeads")
    async def list_leads(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        project_id: uuid.UUID | None = None,
        stage: str | None = None,
        source: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> Page[Lead]:
        """Leads newest first, filtered by project, stage, source and received range."""
        filters = LeadFilters(project_id, stage, source, received_from, received_to)
        rows, cursor = await leads.list(session, ctx, filters, page_params)
        return Page(items=[Lead(**lead_view(r)) for r in rows], next_cursor=cursor)

    @get("/{lead_id:uuid}", guards=_READ, operation_id="GetLead")
    async def get_lead(self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID) -> LeadDetail:
        """A lead with its stage history and attempts summary."""
        return await leads.get(session, ctx, lead_id)

    @post(
        "/{lead_id:uuid}/outcome",
        guards=_WRITE,
        operation_id="ReportLeadOutcome",
        status_code=200,
    )
    async def report_outcome(
        self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID, data: OutcomeReport
    ) -> LeadDetail:
        """Report a deal closed on the client's side: ``won`` with amount and currency,
        or ``lost`` with a reason."""
        return await leads.report_outcome(session, ctx, lead_id, data)

    @delete("/{lead_id:uuid}", guards=_ERASE, operation_id="EraseLead", status_code=204)
    async def erase_lead(self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID) -> None:
        """Erase the lead's personal data (its funnel facts stay); emits ``lead.erased``."""
        await leads.erase(session, ctx, lead_id)


LEAD_ROUTE_HANDLERS = [LeadController]
