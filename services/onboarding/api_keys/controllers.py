"""``/v1/tenants/{tenant_id}/api-keys``: issue (shown once), list, revoke."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.access import MANAGERS
from services.onboarding.api_keys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from services.onboarding.api_keys.service import api_keys
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.errors import ValidationFailed
from shared.http.idempotency import HEADER
from shared.http.openapi import problems
from shared.http.pagination import Page, PageParams
from shared.http.responses import created_headers, out

RefusedIdempotencyKey = Annotated[
    str | None,
    Parameter(
        header=HEADER,
        required=False,
        description=(
            "Refused here (422 `not_supported`): a key is stored hashed, so its creation"
            " cannot be replayed; list the keys to see whether a create went through."
        ),
    ),
]


class ApiKeyController(Controller):
    path = "/v1/tenants/{tenant_id:uuid}/api-keys"
    tags = ["api-keys"]
    guards = [require_roles(*MANAGERS, Role.CLIENT_ADMIN)]

    @post(
        "/",
        operation_id="CreateApiKey",
        response_headers=created_headers(replayable=False),
        responses={
            201: ResponseSpec(ApiKeyCreated, description="Created: the only answer with the key"),
            **problems(s422="validation, not_supported (`Idempotency-Key`)"),
        },
    )
    async def create_api_key(
        self,
        ctx: Ctx,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: ApiKeyCreate,
        idempotency_key: RefusedIdempotencyKey = None,
    ) -> Response[ApiKeyCreated]:
        """Issue a key; the full ``key`` is in this answer only (only its hash is kept).

        ``Idempotency-Key`` is refused here: replaying the answer would mean storing
        the key itself. A client unsure whether a create went through lists its keys
        (by name and prefix) and revokes any extra one.
        """
        if idempotency_key is not None:
            raise ValidationFailed.one(
                "Idempotency-Key",
                "not_supported",
                "API keys are stored hashed, so a create cannot be replayed; list the keys"
                " to see whether it went through",
            )
        key, secret = await api_keys.create(session, ctx, tenant_id, data)
        body = ApiKeyCreated(
            id=key.id,
            tenant_id=key.tenant_id,
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            key=secret,
        )
        return Response(
            body,
            status_code=201,
            headers={"Location": f"/v1/tenants/{tenant_id}/api-keys/{key.id}"},
        )

    @get("/", operation_id="ListApiKeys")
    async def list_api_keys(
        self, ctx: Ctx, session: AsyncSession, tenant_id: uuid.UUID, page_params: PageParams
    ) -> Page[ApiKey]:
        """The tenant's keys (prefix, name, scopes, times; never the key or its hash)."""
        rows, cursor = await api_keys.list(session, ctx, tenant_id, params=page_params)
        return Page(items=[out(ApiKey, r) for r in rows], next_cursor=cursor)

    @post("/{key_id:uuid}/revoke", status_code=200, operation_id="RevokeApiKey")
    async def revoke_api_key(
        self, ctx: Ctx, session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID
    ) -> ApiKey:
        """Revoke a key: refused everywhere within seconds. Revoking twice is harmless."""
        return out(ApiKey, await api_keys.revoke(session, ctx, tenant_id, key_id))
