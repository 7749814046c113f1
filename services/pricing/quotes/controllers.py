"""``/v1/quotes``: staff price and send; the client (or its account manager) accepts.

Client users see only their tenant's quotes (404 otherwise) in the client shape,
without override reasons or list prices.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.quotes.models import QuoteStatus
from services.pricing.quotes.pdf import quote_pdf
from services.pricing.quotes.schemas import (
    ClientQuote,
    Quote,
    QuoteAccept,
    QuoteCreate,
    QuoteReject,
    QuoteUpdate,
    QuoteVersionSummary,
)
from services.pricing.quotes.service import quotes
from services.pricing.quotes.views import for_caller
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.fields import INT4_MAX
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problem_spec
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating

SCHEMA = "pricing"
PRICERS = require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)
READERS = require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, Role.CLIENT_USER)
DECIDERS = require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)

QuoteAnswer = Quote | ClientQuote

NOT_FOUND = {
    404: problem_spec(
        "`not_found`: no such quote, or not yours (the same answer); "
        "`quote_version_not_found`: the quote has no such `version`"
    )
}
BAD_LINES = (
    "`validation`: `errors[].field` names each bad line (`lines[2].rate_code` with "
    "`unknown_rate_code`, `lines[0].override_reason` with `required`...) or "
    "`valid_until` (`in_the_past`)"
)
LINES_INVALID = {422: problem_spec(BAD_LINES)}
CLOSED = (
    "`quote_expired`, `quote_rejected`, `quote_superseded` (another quote of the project "
    "was accepted), `quote_already_accepted`"
)
PDF = ResponseSpec(
    data_container=bytes,
    description="The commercial proposal (PDF, Russian)",
    media_type="application/pdf",
    generate_examples=False,
)


class QuoteController(Controller):
    path = "/v1/quotes"
    tags = ["quotes"]

    @post(
        "/",
        operation_id="CreateQuote",
        guards=[PRICERS],
        response_headers=created_headers(),
        responses=creating(
            s404="`project_not_found`: no such project, or not yours", s422=BAD_LINES
        ),
    )
    async def create_quote(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: QuoteCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Quote]:
        """A draft quote for a project, priced from the current rate card. Accepts
        ``Idempotency-Key``."""

        async def make() -> tuple[Quote, str, uuid.UUID]:
            quote = await quotes.create_draft(
                session, ctx, data.project_id, lines=data.lines, valid_until=data.valid_until
            )
            return quote, f"/v1/quotes/{quote.id}", quote.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get("/", operation_id="ListQuotes", guards=[READERS])
    async def list_quotes(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        project_id: uuid.UUID | None = None,
        tenant_id: uuid.UUID | None = None,
        status: QuoteStatus | None = None,
    ) -> Page[QuoteAnswer]:
        """Newest first, each at its current version."""
        return await quotes.list(
            session,
            ctx,
            params=page_params,
            project_id=project_id,
            tenant_id=tenant_id,
            status=status,
        )

    @get("/{quote_id:uuid}", operation_id="GetQuote", guards=[READERS], responses=NOT_FOUND)
    async def get_quote(
        self,
        ctx: Ctx,
        session: AsyncSession,
        quote_id: uuid.UUID,
        version: int | None = Parameter(query="version", default=None, ge=1, le=INT4_MAX),
    ) -> QuoteAnswer:
        """The quote at its current version, or at ``?version=n``."""
        return for_caller(await quotes.get(session, ctx, quote_id, version=version), ctx)

    @get(
        "/{quote_id:uuid}/versions",
        operation_id="ListQuoteVersions",
        guards=[READERS],
        responses=NOT_FOUND,
    )
    async def list_versions(
        self, ctx: Ctx, session: AsyncSession, quote_id: uuid.UUID
    ) -> list[QuoteVersionSummary]:
        return await quotes.versions(session, ctx, quote_id)

    @patch(
        "/{quote_id:uuid}",
        operation_id="UpdateQuote",
        guards=[PRICERS],
        responses={
            **NOT_FOUND,
            409: problem_spec(
                "`quote_not_editable`: only a draft or sent quote changes "
                "(`extra.status` is the current one)"
            ),
            **LINES_INVALID,
        },
    )
    async def update_quote(
        self, ctx: Ctx, session: AsyncSession, quote_id: uuid.UUID, data: QuoteUpdate
    ) -> Quote:
        """Lines and/or validity; on a sent quote this makes a new draft version."""
        return await quotes.update(session, ctx, quote_id, data)

    @post(
        "/{quote_id:uuid}/send",
        operation_id="SendQuote",
        guards=[PRICERS],
        status_code=200,
        responses={
            **NOT_FOUND,
            409: problem_spec(CLOSED),
            422: problem_spec("`validation`: `valid_until` is in the past (`in_the_past`)"),
        },
    )
    async def send_quote(self, ctx: Ctx, session: AsyncSession, quote_id: uuid.UUID) -> Quote:
        return await quotes.send(session, ctx, quote_id)

    @post(
        "/{quote_id:uuid}/reject",
        operation_id="RejectQuote",
        guards=[DECIDERS],
        status_code=200,
        responses={
            **NOT_FOUND,
            409: problem_spec(f"`quote_not_sent`: still a draft; {CLOSED}"),
        },
    )
    async def reject_quote(
        self, ctx: Ctx, session: AsyncSession, quote_id: uuid.UUID, data: QuoteReject | None = None
    ) -> QuoteAnswer:
        reason = data.reason if data else None
        return for_caller(await quotes.reject(session, ctx, quote_id, reason=reason), ctx)

    @post(
        "/{quote_id:uuid}/accept",
        operation_id="AcceptQuote",
        guards=[DECIDERS],
        status_code=200,
        responses={
            **NOT_FOUND,
            409: problem_spec(
                "`quote_expired` (past `valid_until`; `extra.valid_until`), `quote_rejected`, "
                "`quote_superseded` (a newer version exists, `version` names an older one, "
                "or another quote of the project was accepted; `extra.current_version`), "
                "`quote_not_sent` (still a draft)"
            ),
        },
    )
    async def accept_quote(
        self, ctx: Ctx, session: AsyncSession, quote_id: uuid.UUID, data: QuoteAccept | None = None
    ) -> QuoteAnswer:
        """Fix the project's price plan; again on an accepted quote answers it unchanged."""
        version = data.version if data else None
        return for_caller(await quotes.accept(session, ctx, quote_id, version=version), ctx)

    @get(
        "/{quote_id:uuid}/pdf",
        operation_id="GetQuotePdf",
        guards=[READERS],
        media_type="application/pdf",
        responses={200: PDF, **NOT_FOUND},
    )
    async def quote_pdf(
        self,
        ctx: Ctx,
        session: AsyncSession,
        quote_id: uuid.UUID,
        version: int | None = Parameter(query="version", default=None, ge=1, le=INT4_MAX),
    ) -> Response[bytes]:
        """The commercial proposal as PDF (Russian), ready to sign."""
        body, filename = await quote_pdf(session, ctx, quote_id, version=version)
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


QUOTE_ROUTE_HANDLERS = [QuoteController]
