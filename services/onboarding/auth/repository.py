"""Every query of refresh tokens (staff scope: the table is staff-only)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.auth.models import RefreshToken


class RefreshTokenRepository:
    async def add(self, session: AsyncSession, token: RefreshToken) -> None:
        session.add(token)
        await session.flush()

    async def spend(self, session: AsyncSession, token_hash: str) -> RefreshToken | None:
        """Mark a live token used, atomically: of two requests racing with one token,
        exactly one gets it back (the other finds it spent)."""
        stmt = (
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(RefreshToken)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_hash(self, session: AsyncSession, token_hash: str) -> RefreshToken | None:
        return await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )

    async def revoke_family(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )

    async def revoke_user(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Every refresh token of one user (disabled, password changed)."""
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )


refresh_repo = RefreshTokenRepository()
