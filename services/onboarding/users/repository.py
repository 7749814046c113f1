"""Every query of users.

Row-level security already binds a client's session to its own tenant; the
statements here filter by tenant as well, so a query never depends on RLS alone.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.users.models import User
from shared.context import Ctx
from shared.db.unique import unique_violation


class UserRepository:
    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
    ) -> User | None:
        stmt = select(User).where(User.id == user_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await session.scalar(stmt)

    async def by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email == email.lower()))

    def readable(
        self,
        ctx: Ctx,
        *,
        tenant_id: uuid.UUID | None = None,
        role: str | None = None,
        status: str | None = None,
    ) -> Select[User]:
        stmt = select(User)
        if not ctx.is_staff:
            stmt = stmt.where(User.tenant_id == ctx.tenant_id)
        if tenant_id is not None:
            stmt = stmt.where(User.tenant_id == tenant_id)
        if role is not None:
            stmt = stmt.where(User.role == role)
        if status is not None:
            stmt = stmt.where(User.status == status)
        return stmt

    async def lock(self, session: AsyncSession, user: User) -> None:
        """Reload ``user`` and hold its row until the transaction ends."""
        await session.refresh(user, with_for_update=True)

    async def bump_token_version(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """End every access token the user holds (the auth middleware compares ``ver``).
        A user loaded in ``session`` gets the new value too (synchronized in Python)."""
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1)
            .execution_options(synchronize_session="evaluate")
        )

    async def insert(self, session: AsyncSession, user: User) -> str | None:
        """Add and flush ``user``; the unique constraint it broke (the email), or ``None``."""
        return await unique_violation(session, user)


user_repo = UserRepository()
