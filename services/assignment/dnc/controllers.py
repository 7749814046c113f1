"""``/v1/dnc``: add, remove, check and page through do-not-call lists."""

from __future__ import annotations

import uuid
from typing import Any, cast
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.dnc.models import SCHEMA, DncList, DncSource
from services.assignment.dnc.schemas import DncAdded, DncCheck, DncCreate, DncEntry
from services.assignment.dnc.service import dnc
from shared.auth.guards import require_roles, require_scope
from shared.context import Ctx, Role
from shared.errors import ValidationFailed
from shared.http.idempotency import IdempotencyKey, Outcome, idempotent
from shared.http.pagination import Page, PageParams
from shared.http.responses import created_headers, creating

_WHO = require_roles(
    Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, Role.CLIENT_USER, allow_api_keys=True
)
_LIST = Parameter(query="list", default=DncList.TENANT, description="tenant or global")
_TENANT = Parameter(
    query="tenant_id", default=None, required=False, description="Staff: whose list"
)


class DncController(Controller):
    path = "/v1/dnc"
    tags = ["dnc"]
    guards = [_WHO]

    @post(
        "/",
        guards=[require_scope("dnc:write")],
        operation_id="AddDncNumber",
        response_headers=created_headers("Where to check the number"),
        responses={
            **creating(),
            200: ResponseSpec(DncAdded, description="Already listed: the first entry"),
        },
    )
    async def add_number(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: DncCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[DncAdded]:
        """List a number; its pending tasks are cancelled. 201 when new, 200 if already listed.
        Accepts ``Idempotency-Key``."""
        tenant_id: uuid.UUID | None = None
        if data.list is DncList.TENANT:
            tenant_id = data.tenant_id or ctx.tenant_id
            if tenant_id is None:
                raise ValidationFailed.one(
                    "tenant_id", "required", "staff name the tenant whose list this is"
                )

        async def run() -> Outcome:
            result = await dnc.add(
                session,
                ctx,
                phone=data.phone,
                tenant_id=tenant_id,
                reason=data.reason,
                source=DncSource.STAFF if ctx.is_staff else DncSource.CLIENT,
            )
            location = f"/v1/dnc/check?phone={quote(result.entry.phone)}"
            return Outcome.of(201 if result.created else 200, result.body(), location=location)

        answer = await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)
        return cast("Response[DncAdded]", answer)  # the encoded bytes of a DncAdded

    @delete("/{phone:str}", guards=[require_scope("dnc:write")], operation_id="RemoveDncNumber")
    async def remove_number(
        self,
        ctx: Ctx,
        session: AsyncSession,
        phone: str,
        list_: DncList = _LIST,
        tenant_id: uuid.UUID | None = _TENANT,
    ) -> None:
        """Take a number off a list (the caller's tenant list by default)."""
        await dnc.remove(session, ctx, phone=phone, list_=list_, tenant_id=tenant_id)

    @get("/check", guards=[require_scope("dnc:read")], operation_id="CheckDncNumber")
    async def check_number(
        self,
        ctx: Ctx,
        session: AsyncSession,
        phone: str = Parameter(query="phone", description="The number, any common form"),
        tenant_id: uuid.UUID | None = _TENANT,
    ) -> DncCheck:
        """Whether the number is listed, and where: your list and/or the global list."""
        return await dnc.check(session, ctx, phone=phone, tenant_id=tenant_id)

    @get("/", guards=[require_scope("dnc:read")], operation_id="ListDncNumbers")
    async def list_numbers(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        list_: DncList = _LIST,
        tenant_id: uuid.UUID | None = _TENANT,
    ) -> Page[DncEntry]:
        """A page of a list, newest first."""
        items, cursor = await dnc.list(
            session, ctx, list_=list_, tenant_id=tenant_id, params=page_params
        )
        return Page(items=items, next_cursor=cursor)


DNC_ROUTE_HANDLERS = [DncController]
