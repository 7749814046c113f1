"""``/v1/rate-card``: any signed-in user reads; admins and account managers edit."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.rate_card.schemas import (
    RateCardItemCreate,
    RateCardItemDetail,
    RateCardItemUpdate,
    RateCardPrice,
)
from services.pricing.rate_card.service import rate_card
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problem_spec
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating

SCHEMA = "pricing"
EDITORS = require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)
NOT_FOUND = {404: problem_spec("`rate_card_item_not_found`: no such rate card item")}


class RateCardController(Controller):
    path = "/v1/rate-card"
    tags = ["rate card"]

    @get("/", operation_id="ListRateCard")
    async def list_items(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        currency: str | None = None,
    ) -> Page[RateCardPrice]:
        """Items in force now (one version each), ordered by currency and code."""
        return await rate_card.list_current(session, params=page_params, currency=currency)

    @get("/{item_id:uuid}", operation_id="GetRateCardItem", responses=NOT_FOUND)
    async def get_item(
        self, ctx: Ctx, session: AsyncSession, item_id: uuid.UUID
    ) -> RateCardItemDetail:
        """An item with its current version and every version (with effective dates)."""
        return await rate_card.get(session, item_id)

    @post(
        "/",
        operation_id="CreateRateCardItem",
        guards=[EDITORS],
        response_headers=created_headers(),
        responses=creating(
            s409="`rate_card_code_taken`: the code already exists in this currency",
            s422="`validation`: `errors[].field` names each bad field",
        ),
    )
    async def create_item(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: RateCardItemCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RateCardItemDetail]:
        """A new item at version 1. Accepts ``Idempotency-Key``."""

        async def make() -> tuple[RateCardItemDetail, str, uuid.UUID]:
            item = await rate_card.create(session, ctx, data)
            return item, f"/v1/rate-card/{item.id}", item.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @patch(
        "/{item_id:uuid}",
        operation_id="UpdateRateCardItem",
        guards=[EDITORS],
        responses={
            **NOT_FOUND,
            422: problem_spec(
                "`validation`: a bad field, or `effective_from` before the newest version's"
            ),
        },
    )
    async def update_item(
        self, ctx: Ctx, session: AsyncSession, item_id: uuid.UUID, data: RateCardItemUpdate
    ) -> RateCardItemDetail:
        """A new version effective from ``effective_from`` (default now)."""
        return await rate_card.update(session, ctx, item_id, data)


RATE_CARD_ROUTE_HANDLERS = [RateCardController]
