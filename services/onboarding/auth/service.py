"""Logging in: email and password for a short-lived access token."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.errors import InvalidCredentials
from services.onboarding.users.models import User, UserStatus
from services.onboarding.users.repository import user_repo
from shared.auth.passwords import hash_password, needs_rehash, verify_password
from shared.auth.throttle import LoginThrottle
from shared.auth.tokens import issue_access_token
from shared.context import Role

_DUMMY_HASH = hash_password("kolokol-dummy-password-for-timing")
"""Verified against when the email is unknown, so both failures take the same time."""


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
    ) -> tuple[User, str, int]:
        """Email + password → (user, access token, expires_in). ``session`` is staff-scoped.

        Unknown email, wrong password and a disabled account all answer the same
        ``invalid_credentials``, and each verifies one argon2 hash, so they take the
        same time. The throttle counts failures per account and per address.
        """
        email = email.strip().lower()
        await throttle.check(email, address)
        user = await user_repo.by_email(session, email)
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok or user.status != UserStatus.ACTIVE:
            await throttle.failed(email, address)
            raise InvalidCredentials("the email or password is wrong")
        await throttle.succeeded(email, address)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            await session.flush()
        token, expires_in = issue_access_token(
            user_id=user.id, role=Role(user.role), tenant_id=user.tenant_id
        )
        return user, token, expires_in


auth = AuthService()
