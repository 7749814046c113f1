"""Whether the person behind an access token still stands behind it.

An access token is verified locally (shared/auth/tokens.py); only the database knows
whether its user still exists, is active, holds the role and tenant the token names,
belongs to a tenant that is not closed, and whether the token's ``ver`` is still the
user's ``token_version`` — bumped when the user is disabled, their password or role
changes, or they log out. The auth middleware asks :func:`check_person` on every
request.

Answers are read from ``onboarding.users`` and ``onboarding.tenants`` under the staff
scope (the sanctioned cross-schema read, like API keys) and cached per user for
``settings.user_cache_seconds`` (3 s by default; :mod:`shared.auth.lookups`), so a
token stops working everywhere within seconds and a cache hit costs no round trip.
The process that makes a change forgets the entry when it commits
(:func:`forget_person_after_commit`). A suspended tenant's people keep their tokens:
what a suspended tenant may do is decided per route, not here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.lookups import CachedLookup
from shared.auth.tokens import AccessToken, InvalidToken
from shared.config import get_settings
from shared.db.session import STAFF, session_scope

CLOSED = "closed"
ACTIVE = "active"

_LOOKUP = text(
    "select u.token_version, u.status, u.role, u.tenant_id, t.status as tenant_status"
    " from onboarding.users u left join onboarding.tenants t on t.id = u.tenant_id"
    " where u.id = :user_id"
)


@dataclass(frozen=True, slots=True)
class Standing:
    """What the database says about one user, as far as their tokens care."""

    version: int
    status: str
    role: str
    tenant_id: uuid.UUID | None
    tenant_status: str | None


async def _load(user_id: uuid.UUID) -> Standing | None:
    async with session_scope(STAFF) as session:
        row = (await session.execute(_LOOKUP, {"user_id": user_id})).one_or_none()
    if row is None:
        return None
    return Standing(
        version=row.token_version,
        status=row.status,
        role=row.role,
        tenant_id=row.tenant_id,
        tenant_status=row.tenant_status,
    )


_people: CachedLookup[uuid.UUID, Standing | None] = CachedLookup(
    _load, lambda: get_settings().user_cache_seconds
)


async def check_person(token: AccessToken) -> None:
    """Raise :class:`InvalidToken` unless the token's user still stands behind it."""
    ctx = token.ctx
    assert ctx.principal_id is not None  # a verified token always names its user
    standing = await _people.get(ctx.principal_id)
    if standing is None:
        raise InvalidToken("the access token's user does not exist")
    if standing.status != ACTIVE:
        raise InvalidToken("the access token's user is disabled")
    if standing.tenant_status == CLOSED:
        raise InvalidToken("the access token's tenant is closed")
    if (
        standing.version != token.version
        or standing.role != ctx.role
        or standing.tenant_id != ctx.tenant_id
    ):
        raise InvalidToken("the access token has been revoked; log in again")


def forget_person(user_id: uuid.UUID) -> None:
    """Drop this process's cached standing of one user (after a change to it)."""
    _people.forget(user_id)


def forget_person_after_commit(session: AsyncSession, *user_ids: uuid.UUID) -> None:
    """Forget ``user_ids`` once ``session`` commits: forgotten earlier, a request in
    between could cache the old standing again for the whole cache window."""

    def forget(_: Any) -> None:
        for user_id in user_ids:
            _people.forget(user_id)

    sa_event.listen(session.sync_session, "after_commit", forget, once=True)


def clear_people_after_commit(session: AsyncSession) -> None:
    """Forget every cached standing once ``session`` commits (a tenant closed: its
    people are not worth listing for a cache that refills in one query each)."""
    sa_event.listen(session.sync_session, "after_commit", lambda _: _people.clear(), once=True)


def clear_people_cache() -> None:
    _people.clear()
