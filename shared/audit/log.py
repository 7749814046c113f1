"""Recording actions that change money or access.

Call :func:`record` in the same transaction as the change, so the entry exists if
and only if the change does::

    await record(session, ctx, action="api_key.revoked", entity="api_key",
                 entity_id=key.id, tenant_id=key.tenant_id,
                 before={"revoked_at": None}, after={"revoked_at": now})

``before`` / ``after`` are plain dicts of the fields that matter (ids, times,
enums, decimals are converted to JSON). Secret-bearing keys (``password``,
``password_hash``, ``key``, ``key_hash``, ``secret``, ``token`` and names ending in
``_password``, ``_secret``, ``_token``, ``_hash``, ``_key``) are never stored, at
any depth; ``changes`` still names them when they differ, so "password changed"
is on record without the password.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.models import AuditLog
from shared.context import Ctx
from shared.db.base import utcnow
from shared.ids import new_id, tenant_key

SECRET_KEYS = frozenset({"password", "password_hash", "key", "key_hash", "secret", "token"})
SECRET_SUFFIXES = ("_password", "_secret", "_token", "_hash", "_key")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _plain(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    plain = msgspec.to_builtins(dict(state), str_keys=True)
    assert isinstance(plain, dict)
    return plain


def changed_keys(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """Top-level keys whose value differs (a key on one side only counts as changed)."""
    b, a = before or {}, after or {}
    return sorted(k for k in b.keys() | a.keys() if k not in b or k not in a or b[k] != a[k])


def sanitize(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``state`` as JSON-ready builtins with every secret-bearing key removed."""
    plain = _plain(state)
    return None if plain is None else _scrub(plain)


async def record(
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
    """Append one audit entry in the caller's transaction (flushed, not committed).

    ``tenant_id=None`` (an action on no tenant) is stored under the platform sentinel.
    """
    plain_before, plain_after = _plain(before), _plain(after)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await session.execute(
        insert(AuditLog).values(
            id=new_id(),
            tenant_id=tenant_key(tenant_id),
            actor=ctx.actor,
            actor_kind=ctx.kind.value,
            actor_id=ctx.principal_id,
            role=ctx.role.value if ctx.role is not None else None,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=None if plain_before is None else _scrub(plain_before),
            after=None if plain_after is None else _scrub(plain_after),
            changes=changed_keys(plain_before, plain_after),
            request_id=str(request_id) if request_id is not None else None,
            at=utcnow(),
        )
    )
