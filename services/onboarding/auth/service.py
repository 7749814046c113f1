"""Logging in, refreshing and logging out.

Logging in trades email and password for a short access token (a JWT every service
checks locally and against its user's ``token_version``: shared/auth/people.py) and a
refresh token: opaque, stored as a SHA-256 hash, one family per login. Refreshing
spends the token and returns the next pair of the same family; a spent token shown
again means it was copied, so the whole family is revoked and the user's access tokens
end (``token_version`` bumped). Logging out does the same for one's own family.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.auth.models import RefreshToken
from services.onboarding.auth.repository import refresh_repo
from services.onboarding.errors import InvalidCredentials, InvalidRefreshToken
from services.onboarding.tenants.models import TenantStatus
from services.onboarding.tenants.repository import tenant_repo
from services.onboarding.users.models import User, UserStatus
from services.onboarding.users.repository import user_repo
from shared.auth.devices import issue_device_token, known_device
from shared.auth.passwords import hash_password, needs_rehash, verify_password
from shared.auth.people import forget_person_after_commit
from shared.auth.throttle import LoginThrottle
from shared.auth.tokens import issue_access_token
from shared.config import get_settings
from shared.context import Role
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope

_DUMMY_HASH = hash_password("kolokol-dummy-password-for-timing")
"""Verified against when the email is unknown, so both failures take the same time."""
REFRESH_PREFIX = "kk_rt_"


@dataclass(frozen=True, slots=True)
class Tokens:
    """What a login or a refresh hands out."""

    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    device_token: str | None = None
    """A known-device token for this browser (logins only)."""


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    # --- logging in --------------------------------------------------------------------

    async def login(
        self,
        session: AsyncSession,
        email: str,
        password: str,
        *,
        address: str,
        throttle: LoginThrottle,
        device_token: str | None = None,
    ) -> Tokens:
        """Email + password → tokens. ``session`` is staff-scoped.

        Unknown email, wrong password, a disabled account and a closed tenant all
        answer the same ``invalid_credentials``, and each verifies one argon2 hash, so
        they take the same time. The throttle counts failures per account, address and
        known device (``device_token``, from the login that made it).
        """
        email = email.strip().lower()
        user = await user_repo.by_email(session, email)
        device = known_device(device_token, user.id) if user is not None else None
        await throttle.check(email, address, device=device)
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok or not await self._may_hold_tokens(session, user):
            await throttle.failed(email, address, device=device)
            raise InvalidCredentials("the email or password is wrong")
        await throttle.succeeded(email, address, device=device)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            await session.flush()
        tokens = await self._issue(session, user, family_id=uuid.uuid4())
        return replace(tokens, device_token=issue_device_token(user.id, device))

    # --- refreshing and logging out ----------------------------------------------------

    async def refresh(self, session: AsyncSession, refresh_token: str) -> Tokens:
        """Spend ``refresh_token`` for the next pair of its family.

        A spent token shown again revokes its family and ends the user's access
        tokens before answering 401: that revocation is committed on its own, because
        the refusal rolls back this request's transaction.
        """
        token_hash = hash_refresh_token(refresh_token)
        spent = await refresh_repo.spend(session, token_hash)
        if spent is None:
            known = await refresh_repo.by_hash(session, token_hash)
            if known is not None and known.used_at is not None and known.revoked_at is None:
                await _end_family_now(known)
            raise InvalidRefreshToken("the refresh token is unknown, expired or revoked")
        user = await user_repo.get(session, spent.user_id)
        if user is None or not await self._may_hold_tokens(session, user):
            raise InvalidRefreshToken("the refresh token's user can no longer log in")
        return await self._issue(session, user, family_id=spent.family_id)

    async def logout(self, session: AsyncSession, refresh_token: str) -> bool:
        """Revoke the family of ``refresh_token`` and end its user's access tokens (within
        the cache window everywhere). An unknown or dead token revokes nothing."""
        known = await refresh_repo.by_hash(session, hash_refresh_token(refresh_token))
        if known is None or known.revoked_at is not None or known.expires_at <= utcnow():
            return False
        await _end_family(session, known)
        return True

    # --- internals ---------------------------------------------------------------------

    async def _may_hold_tokens(self, session: AsyncSession, user: User) -> bool:
        """Active, and not of a closed tenant (a suspended one's people log in to pay)."""
        if user.status != UserStatus.ACTIVE:
            return False
        if user.tenant_id is None:
            return True
        tenant = await tenant_repo.get(session, user.tenant_id)
        return tenant is not None and tenant.status != TenantStatus.CLOSED

    async def _issue(self, session: AsyncSession, user: User, *, family_id: uuid.UUID) -> Tokens:
        settings = get_settings()
        access, expires_in = issue_access_token(
            user_id=user.id,
            role=Role(user.role),
            tenant_id=user.tenant_id,
            version=user.token_version,
        )
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        await refresh_repo.add(
            session,
            RefreshToken(
                family_id=family_id,
                user_id=user.id,
                token_hash=hash_refresh_token(refresh),
                expires_at=utcnow() + timedelta(seconds=settings.refresh_ttl_seconds),
            ),
        )
        return Tokens(
            user=user,
            access_token=access,
            expires_in=expires_in,
            refresh_token=refresh,
            refresh_expires_in=settings.refresh_ttl_seconds,
        )


async def _end_family(session: AsyncSession, token: RefreshToken) -> None:
    await refresh_repo.revoke_family(session, token.family_id)
    await user_repo.bump_token_version(session, token.user_id)
    forget_person_after_commit(session, token.user_id)


async def _end_family_now(token: RefreshToken) -> None:
    async with session_scope(STAFF) as session:
        await _end_family(session, token)


auth = AuthService()
