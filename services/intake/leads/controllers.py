"""``/v1/leads``: submit (one or a batch), read, list, report an outcome, erase."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access import SCHEMA
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
from shared.auth.guards import Guard, all_of, require_roles, require_scope
from shared.context import Ctx, Role
from shared.http.idempotency import (
    REPLAYED,
    IdempotencyKey,
    Outcome,
    idempotency_problems,
    idempotent,
)
from shared.http.openapi import documented_header, problem_spec
from shared.http.pagination import Page, PageParams
from shared.http.ratelimit import RATE_LIMITED
from shared.http.responses import created_headers

_CLIENTS = (Role.CLIENT_ADMIN, Role.CLIENT_USER)
_MANAGERS = (Role.ADMIN, Role.ACCOUNT_MANAGER)
"""Staff who may read leads. Not operators: an operator sees a lead only through the
task they hold (assignment's task answer carries its card) and their recent attempts,
never by paging through every client's leads."""


def _guards(*checks: Guard) -> list[Guard]:
    """``checks`` as one guard (Litestar copies the handler for every guard it calls);
    the per-API-key rate limit ran before them (``shared.http.ratelimit``)."""
    return [all_of(*checks)]


_WRITE = _guards(require_roles(*_CLIENTS, allow_api_keys=True), require_scope("leads:write"))
# a key that may submit leads may also read them (the Location it was given, for one)
_READ = _guards(
    require_roles(*_CLIENTS, *_MANAGERS, allow_api_keys=True),
    require_scope("leads:read", "leads:write"),
)
_ERASE = _guards(
    require_roles(Role.CLIENT_ADMIN, Role.ADMIN, allow_api_keys=True),
    require_scope("leads:write"),
)

_SUBMIT_ERRORS: dict[int, ResponseSpec] = {
    **idempotency_problems(
        s409="`project_not_active`",
        s422="`validation` (per-field `errors`, e.g. `phone` / `invalid_phone`, unknown fields)",
        erased="an erased lead",
    ),
    413: problem_spec("`body_too_large`: the request body is over the size limit"),
    429: RATE_LIMITED,
}
_RATE_HEADERS = [
    documented_header(name, text)
    for name, text in (
        ("RateLimit-Limit", "The API key's bucket size (API keys only)"),
        ("RateLimit-Remaining", "Requests left in the bucket now (API keys only)"),
        ("RateLimit-Reset", "Seconds until the bucket is full again (API keys only)"),
    )
]


LEAD_NOT_FOUND = problem_spec("`lead_not_found`: no such lead, or not yours")


class LeadController(Controller):
    path = "/v1/leads"
    tags = ["leads"]
    response_headers = _RATE_HEADERS

    @post(
        "/",
        guards=_WRITE,
        operation_id="CreateLead",
        status_code=201,
        response_headers=created_headers("`/v1/leads/{id}` of the new lead (201)"),
        responses={
            200: ResponseSpec(LeadCreated, description="A duplicate: the live lead it repeats"),
            403: problem_spec(
                "Not allowed: an API key without `leads:write`, or the account is not active"
                " (`tenant_suspended`, `tenant_closed`, `tenant_not_active`)"
            ),
            404: problem_spec("`project_not_found`: no such project, or not yours"),
            **_SUBMIT_ERRORS,
        },
    )
    async def create_lead(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: LeadCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[LeadCreated]:
        """Submit a lead. 201 with the new lead, or 200 with ``duplicate: true`` and the
        lead it repeats (same phone or external id in the project's dedupe window).
        Accepts ``Idempotency-Key``."""

        async def run() -> Outcome:
            # without a key nothing else of this request is written: the fast path
            lead = await leads.create(session, ctx, data, alone=idempotency_key is None)
            if lead.duplicate:
                return Outcome.of(200, lead, resource_ids=[lead.id])
            return Outcome.of(201, lead, location=f"/v1/leads/{lead.id}", resource_ids=[lead.id])

        answer = await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)
        return cast("Response[LeadCreated]", answer)  # the encoded bytes of a LeadCreated

    @post(
        "/batch",
        guards=_WRITE,
        operation_id="CreateLeadBatch",
        status_code=200,
        response_headers=[REPLAYED],
        responses={
            403: problem_spec(
                "Not allowed: an API key without `leads:write`, or the account is not active"
                " (`tenant_suspended`, `tenant_closed`, `tenant_not_active`)"
            ),
            **_SUBMIT_ERRORS,
        },
    )
    async def create_batch(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: LeadBatch,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchResult]:
        """Submit up to 1 000 leads; each is checked on its own and valid ones are kept.
        Accepts ``Idempotency-Key``."""

        async def run() -> Outcome:
            result = await leads.create_batch(session, ctx, data)
            ids = [item.lead_id for item in result.items if item.lead_id is not None]
            return Outcome.of(200, result, resource_ids=ids)

        answer = await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)
        return cast("Response[BatchResult]", answer)  # the encoded bytes of a BatchResult

    @get("/", guards=_READ, operation_id="ListLeads", responses={429: RATE_LIMITED})
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

    @get(
        "/{lead_id:uuid}",
        guards=_READ,
        operation_id="GetLead",
        responses={
            404: LEAD_NOT_FOUND,
            429: RATE_LIMITED,
        },
    )
    async def get_lead(self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID) -> LeadDetail:
        """A lead with its stage history and attempts summary."""
        return await leads.get(session, ctx, lead_id)

    @post(
        "/{lead_id:uuid}/outcome",
        guards=_WRITE,
        operation_id="ReportLeadOutcome",
        status_code=200,
        responses={
            404: LEAD_NOT_FOUND,
            409: problem_spec("`illegal_stage_transition`: the lead's stage does not allow it"),
            422: problem_spec(
                "`validation`: `amount` and `currency` are required for `won` (and `reason`"
                " refused), `reason` is required for `lost` (and `amount`/`currency` refused)"
            ),
            429: RATE_LIMITED,
        },
    )
    async def report_outcome(
        self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID, data: OutcomeReport
    ) -> LeadDetail:
        """Report a deal closed on the client's side: ``won`` with amount and currency,
        or ``lost`` with a reason."""
        return await leads.report_outcome(session, ctx, lead_id, data)

    @delete(
        "/{lead_id:uuid}",
        guards=_ERASE,
        operation_id="EraseLead",
        status_code=204,
        responses={
            404: LEAD_NOT_FOUND,
            429: RATE_LIMITED,
        },
    )
    async def erase_lead(self, ctx: Ctx, session: AsyncSession, lead_id: uuid.UUID) -> None:
        """Erase the lead's personal data (its funnel facts stay); emits ``lead.erased``."""
        await leads.erase(session, ctx, lead_id)


LEAD_ROUTE_HANDLERS = [LeadController]
