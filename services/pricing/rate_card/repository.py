"""Rate card queries. Platform data: no tenant filter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.rate_card.models import RateCardItem, RateCardVersion


def _current_stmt(at: datetime) -> Select[RateCardItem, RateCardVersion]:
    """For every item, the version in force at ``at`` (one query, DISTINCT ON)."""
    return (
        select(RateCardItem, RateCardVersion)
        .join(RateCardVersion, RateCardVersion.item_id == RateCardItem.id)
        .where(RateCardVersion.effective_from <= at)
        .ext(distinct_on(RateCardVersion.item_id))
        .order_by(
            RateCardVersion.item_id,
            RateCardVersion.effective_from.desc(),
            RateCardVersion.version.desc(),
        )
    )


async def current(
    session: AsyncSession,
    at: datetime,
    *,
    currency: str | None = None,
    codes: Sequence[str] | None = None,
) -> list[tuple[RateCardItem, RateCardVersion]]:
    stmt = _current_stmt(at)
    if currency is not None:
        stmt = stmt.where(RateCardItem.currency == currency)
    if codes is not None:
        stmt = stmt.where(RateCardItem.code.in_(codes))
    rows = [(item, version) for item, version in (await session.execute(stmt)).all()]
    return sorted(rows, key=lambda r: (r[0].currency, r[0].code))


async def get_item(session: AsyncSession, item_id: uuid.UUID) -> RateCardItem | None:
    return await session.get(RateCardItem, item_id)


async def find_item(session: AsyncSession, code: str, currency: str) -> RateCardItem | None:
    return await session.scalar(
        select(RateCardItem).where(RateCardItem.code == code, RateCardItem.currency == currency)
    )


async def versions(session: AsyncSession, item_id: uuid.UUID) -> list[RateCardVersion]:
    rows = await session.scalars(
        select(RateCardVersion)
        .where(RateCardVersion.item_id == item_id)
        .order_by(RateCardVersion.version)
    )
    return list(rows)


async def lock_item(session: AsyncSession, item_id: uuid.UUID) -> RateCardItem | None:
    """The item row locked, so two edits number their versions one after the other."""
    return await session.scalar(
        select(RateCardItem).where(RateCardItem.id == item_id).with_for_update()
    )


async def latest_version(session: AsyncSession, item_id: uuid.UUID) -> RateCardVersion | None:
    return await session.scalar(
        select(RateCardVersion)
        .where(RateCardVersion.item_id == item_id)
        .order_by(RateCardVersion.version.desc())
        .limit(1)
    )


async def count_items(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RateCardItem)) or 0)
