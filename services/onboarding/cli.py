"""Onboarding's part of the ``kolokol`` command line (``kolokol admin create``)."""

from __future__ import annotations

import uuid

import msgspec

from services.onboarding.users.schemas import Email
from services.onboarding.users.service import users
from shared.context import SYSTEM, Role
from shared.db.session import STAFF, session_scope
from shared.errors import ValidationFailed


async def create_admin(email: str, password: str) -> uuid.UUID:
    """Create a platform admin, or make the existing user with this email one.

    Idempotent by email: an existing user gets this password, the admin role, no
    tenant and the active status. The email is stored lower-cased. Raises
    :class:`shared.errors.ValidationFailed` for a malformed email or a password under
    10 characters.
    """
    email = email.strip().lower()
    try:
        msgspec.convert(email, Email)
    except msgspec.ValidationError:
        raise ValidationFailed.one("email", "invalid", "not an email address") from None
    async with session_scope(STAFF) as session:
        user = await users.ensure(
            session,
            SYSTEM,
            email=email,
            name=email.split("@", 1)[0] or "admin",
            role=Role.ADMIN,
            password=password,
            force_password=True,
        )
        return user.id
