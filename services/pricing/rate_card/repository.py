"""Rate card queries. Platform data: no tenant filter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.rate_card.models import RateCardItem, RateCardVersion

_ITEMS = RateCardItem.__table__.c
_VERSIONS = RateCardVersion.__table__.c
_CODES = ARRAY(String(64))


class CurrentPrice(NamedTuple):
    """An item at the version in force: plain column values (no ORM objects)."""

    id: uuid.UUID
    code: str
    currency: str
    version: int
    name: str
    description: str | None
    unit: str
    kind: str
    unit_price: int
    effective_from: datetime


def _current_stmt(at: datetime) -> Select[*tuple[object, ...]]:
    """For every item, the version in force at ``at`` (one query, DISTINCT ON).

    A Core select of the needed columns: the rows are read as plain tuples, without
    building (and identity-mapping) an item and a version object per row.
    """
    return (
        select(
            _ITEMS.id,
            _ITEMS.code,
            _ITEMS.currency,
            _VERSIONS.version,
            _VERSIONS.name,
            _VERSIONS.description,
            _VERSIONS.unit,
            _VERSIONS.kind,
            _VERSIONS.unit_price,
            _VERSIONS.effective_from,
        )
        .join_from(
            RateCardItem.__table__, RateCardVersion.__table__, _VERSIONS.item_id == _ITEMS.id
        )
        .where(_VERSIONS.effective_from <= at)
        .ext(distinct_on(_VERSIONS.item_id))
        .order_by(_VERSIONS.item_id, _VERSIONS.effective_from.desc(), _VERSIONS.version.desc())
    )


async def current(
    session: AsyncSession,
    at: datetime,
    *,
    currency: str | None = None,
    codes: Sequence[str] | None = None,
) -> list[CurrentPrice]:
    """Every item (of ``currency``; only ``codes``) at its version in force at ``at``,
    ordered by currency and code."""
    stmt = _current_stmt(at)
    if currency is not None:
        stmt = stmt.where(_ITEMS.currency == currency)
    if codes is not None:
        # One array parameter (not an expanding IN of one parameter per code): the
        # statement is compiled once and cached whatever the number of codes.
        stmt = stmt.where(_ITEMS.code == any_(bindparam("codes", list(codes), type_=_CODES)))
    result = await session.execute(stmt)
    rows = [CurrentPrice._make(row) for row in result]
    rows.sort(key=lambda r: (r.currency, r.code))
    return rows


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
