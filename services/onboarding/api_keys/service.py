"""API keys: issued once, stored hashed, scoped, revocable, per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.api_keys.repository import api_key_repo
from services.onboarding.api_keys.schemas import KNOWN_SCOPES, ApiKeyCreate
from services.onboarding.errors import ApiKeyNotFound, RoleNotAllowed, TenantNotFound
from services.onboarding.tenants.models import Tenant
from services.onboarding.tenants.repository import tenant_repo
from shared.audit.log import record
from shared.auth.api_keys import forget_api_key, generate_api_key
from shared.context import Ctx, PrincipalKind, Role
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id
from shared.messaging.events import new_event
from shared.messaging.outbox import publish

KEY_MANAGERS = frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN})


def api_key_snapshot(k: ApiKey) -> dict[str, Any]:
    """The audited view of a key: never the key, its prefix or its hash."""
    return {
        "api_key_id": str(k.id),
        "tenant_id": str(k.tenant_id),
        "name": k.name,
        "scopes": list(k.scopes),
        "revoked": k.revoked_at is not None,
    }


class ApiKeyService:
    async def create(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, data: ApiKeyCreate
    ) -> tuple[ApiKey, str]:
        """A new key and its full text, which is never stored and never shown again."""
        errors = [
            FieldError(f"scopes[{i}]", "unknown_scope", f"known scopes: {', '.join(KNOWN_SCOPES)}")
            for i, scope in enumerate(data.scopes)
            if scope not in KNOWN_SCOPES
        ]
        if errors:
            raise ValidationFailed(errors)
        tenant = await self._tenant(session, ctx, tenant_id)
        return await self.issue(session, ctx, tenant, data.name, data.scopes)

    async def issue(
        self, session: AsyncSession, ctx: Ctx, tenant: Tenant, name: str, scopes: Sequence[str]
    ) -> tuple[ApiKey, str]:
        new = generate_api_key()
        key = ApiKey(
            tenant_id=tenant.id,
            id=new_id(),
            name=name.strip(),
            prefix=new.prefix,
            key_hash=new.key_hash,
            scopes=list(dict.fromkeys(scopes)),
            created_by=ctx.principal_id if ctx.kind is PrincipalKind.USER else None,
        )
        await api_key_repo.add(session, key)
        await record(
            session,
            ctx,
            action="api_key.create",
            entity="api_key",
            entity_id=key.id,
            tenant_id=key.tenant_id,
            before=None,
            after=api_key_snapshot(key),
        )
        payload = {
            "api_key_id": str(key.id),
            "tenant_id": str(key.tenant_id),
            "scopes": list(key.scopes),
            "created_by": str(key.created_by) if key.created_by else None,
        }
        await publish(
            session, new_event("api_key.created", tenant_id=key.tenant_id, payload=payload)
        )
        return key, new.key

    async def list(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, *, params: PageParams
    ) -> tuple[Sequence[ApiKey], str | None]:
        await self._tenant(session, ctx, tenant_id)
        return await paginate(
            session,
            api_key_repo.of_tenant(tenant_id),
            order_by=(ApiKey.created_at, ApiKey.id),
            params=params,
        )

    async def revoke(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, key_id: uuid.UUID
    ) -> ApiKey:
        """Revoke (idempotent: revoking a revoked key answers it unchanged)."""
        await self._tenant(session, ctx, tenant_id)
        key = await api_key_repo.get(session, tenant_id, key_id)
        if key is None:
            raise ApiKeyNotFound(f"no API key {key_id}")
        if key.revoked_at is None:
            await self.revoke_key(session, ctx, key)
        return key

    async def revoke_key(self, session: AsyncSession, ctx: Ctx, key: ApiKey) -> None:
        before = api_key_snapshot(key)
        await api_key_repo.revoke(session, key)
        forget_api_key(key.key_hash)
        await record(
            session,
            ctx,
            action="api_key.revoke",
            entity="api_key",
            entity_id=key.id,
            tenant_id=key.tenant_id,
            before=before,
            after=api_key_snapshot(key),
        )
        payload = {
            "api_key_id": str(key.id),
            "tenant_id": str(key.tenant_id),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        }
        await publish(
            session, new_event("api_key.revoked", tenant_id=key.tenant_id, payload=payload)
        )

    async def _tenant(self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID) -> Tenant:
        """The tenant whose keys the caller manages; another tenant's is a 404."""
        if ctx.kind is PrincipalKind.API_KEY or (
            ctx.role not in KEY_MANAGERS and ctx.kind is not PrincipalKind.SYSTEM
        ):
            raise RoleNotAllowed("your role cannot manage API keys")
        tenant = None
        if ctx.is_staff or ctx.tenant_id == tenant_id:
            tenant = await tenant_repo.get(session, tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant


api_keys = ApiKeyService()
