"""What the onboarding services share: snapshots for audit and events, emit, audit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.models import ApiKey, Tenant, User
from shared.audit.log import record
from shared.context import Ctx
from shared.messaging.events import new_event
from shared.messaging.outbox import publish


def tenant_snapshot(t: Tenant) -> dict[str, Any]:
    """The audited view of a tenant (everything a person may change)."""
    return {
        "id": str(t.id),
        "slug": t.slug,
        "name": t.name,
        "legal_name": t.legal_name,
        "inn": t.inn,
        "billing_email": t.billing_email,
        "currency": t.currency,
        "timezone": t.timezone,
        "tax_rate_bp": t.tax_rate_bp,
        "status": t.status,
        "status_reason": t.status_reason,
    }


def tenant_event(t: Tenant) -> dict[str, Any]:
    """The event view of a tenant.

    Pricing prints the client's legal name and INN on proposals and billing sends the
    billing email to Stripe, so these travel; the catalogue marks them personal, which
    keeps them out of webhooks and logs.
    """
    return {
        "tenant_id": str(t.id),
        "slug": t.slug,
        "status": t.status,
        "currency": t.currency,
        "timezone": t.timezone,
        "tax_rate_bp": t.tax_rate_bp,
        "name": t.name,
        "legal_name": t.legal_name,
        "inn": t.inn,
        "billing_email": t.billing_email,
    }


def user_snapshot(u: User) -> dict[str, Any]:
    """The audited view of a user: never the password hash."""
    return {
        "id": str(u.id),
        "tenant_id": str(u.tenant_id) if u.tenant_id else None,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "status": u.status,
        "skills": list(u.skills),
    }


def user_event(u: User) -> dict[str, Any]:
    """The event view of a user: no name, no email."""
    return {
        "user_id": str(u.id),
        "tenant_id": str(u.tenant_id) if u.tenant_id else None,
        "role": u.role,
        "status": u.status,
        "skills": list(u.skills),
    }


def api_key_snapshot(k: ApiKey) -> dict[str, Any]:
    """The audited view of a key: never the key, its prefix or its hash."""
    return {
        "api_key_id": str(k.id),
        "tenant_id": str(k.tenant_id),
        "name": k.name,
        "scopes": list(k.scopes),
        "revoked": k.revoked_at is not None,
    }


async def emit(
    session: AsyncSession, type_: str, tenant_id: uuid.UUID | None, payload: dict[str, Any]
) -> None:
    """Write an event to ``onboarding.outbox`` in the caller's transaction."""
    await publish(session, new_event(type_, tenant_id=tenant_id, payload=payload))


async def audit(
    session: AsyncSession,
    ctx: Ctx,
    *,
    action: str,
    entity: str,
    entity_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await record(
        session,
        ctx,
        action=action,
        entity=entity,
        entity_id=entity_id,
        tenant_id=tenant_id,
        before=before,
        after=after,
    )


@asynccontextmanager
async def unique_guard(session: AsyncSession) -> AsyncIterator[list[str]]:
    """A savepoint; on a unique violation, yields the constraint name through the list.

    Usage::

        async with unique_guard(session) as violated:
            ...flush...
        if violated: raise ...
    """
    violated: list[str] = []
    savepoint = await session.begin_nested()
    try:
        yield violated
        await savepoint.commit()
    except IntegrityError as exc:
        await savepoint.rollback()
        violated.append(_constraint(exc))


def _constraint(exc: IntegrityError) -> str:
    cause: BaseException | None = exc.orig
    while cause is not None:
        name = getattr(cause, "constraint_name", None)
        if name:
            return str(name)
        cause = cause.__cause__
    return str(exc.orig)
