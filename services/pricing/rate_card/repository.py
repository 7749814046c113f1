"""Rate card queries. Platform data: no tenant filter.

:func:`current_by_code` answers from an in-process copy of one currency's card, trusted
only while ``pricing.rate_card_revision.token`` is the token the copy was read with.
Every write here (:func:`add_item`, :func:`add_version`) sets a fresh token in its own
transaction; no trigger does it, as none runs on a Citus reference table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    ScalarSelect,
    Select,
    String,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.rate_card.models import RateCardItem, RateCardVersion, rate_card_revision
from shared.http.pagination import PageParams, paginate

_ITEMS = RateCardItem.__table__.c
_VERSIONS = RateCardVersion.__table__.c
_CODES = ARRAY(String(64))
_REVISION = rate_card_revision


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


_PRICE_COLUMNS = (
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
"""An item and one of its versions, as :class:`CurrentPrice` is built from them."""


def _current_stmt(at: datetime) -> Select[*tuple[object, ...]]:
    """For every item, the version in force at ``at`` (one query, DISTINCT ON).

    A Core select of the needed columns: the rows are read as plain tuples, without
    building (and identity-mapping) an item and a version object per row.
    """
    return (
        select(*_PRICE_COLUMNS)
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


async def current_page(
    session: AsyncSession, at: datetime, *, params: PageParams, currency: str | None = None
) -> tuple[list[CurrentPrice], str | None]:
    """One page of :func:`current` (ordered by currency and code) and the next cursor."""
    stmt = _current_stmt(at)
    if currency is not None:
        stmt = stmt.where(_ITEMS.currency == currency)
    prices = stmt.subquery("prices")
    rows, cursor = await paginate(
        session,
        select(prices),
        order_by=[prices.c.currency, prices.c.code, prices.c.id],
        params=params,
        descending=False,
    )
    return [CurrentPrice._make(row) for row in rows], cursor


def revision_token() -> ScalarSelect[uuid.UUID]:
    """The rate card's current token, as a column to read beside other values (one round
    trip); pass it to :func:`current_by_code`."""
    return select(_REVISION.c.token).scalar_subquery()


class _Card(NamedTuple):
    """One currency's card as read under one token: every version of every item, and the
    versions in force for ``since <= at < until`` (``None``: unbounded)."""

    token: uuid.UUID | None
    versions: dict[str, list[CurrentPrice]]
    """By code, newest first (effective_from, then version), as DISTINCT ON picks."""
    in_force: dict[str, CurrentPrice]
    since: datetime | None
    until: datetime | None


_cards: dict[str, _Card] = {}


def _card(token: uuid.UUID | None, versions: dict[str, list[CurrentPrice]], at: datetime) -> _Card:
    """The versions in force at ``at`` and the span of instants that pick the same ones."""
    chosen: dict[str, CurrentPrice] = {}
    since: datetime | None = None
    until: datetime | None = None
    for code, newest_first in versions.items():
        for row in newest_first:
            if row.effective_from <= at:
                chosen[code] = row
                if since is None or row.effective_from > since:
                    since = row.effective_from
                break
            if until is None or row.effective_from < until:
                until = row.effective_from
    return _Card(token, versions, chosen, since, until)


async def current_by_code(
    session: AsyncSession, currency: str, at: datetime, *, token: uuid.UUID | None
) -> Mapping[str, CurrentPrice]:
    """Every item of ``currency`` at its version in force at ``at``, by code.

    ``token`` is :func:`revision_token` as read in this transaction; with it, a held copy
    read under the same token answers without a query (a rate card write changes the
    token, so the next quote reads the card again). ``None``: read the card now.
    """
    card = _cards.get(currency)
    if card is not None and token is not None and card.token == token:
        if (card.since is None or card.since <= at) and (card.until is None or at < card.until):
            return card.in_force
        # A version has come into force since the copy was sorted (or ``at`` is earlier).
        card = _cards[currency] = _card(token, card.versions, at)
        return card.in_force
    return await _read_card(session, currency, at)


async def _read_card(
    session: AsyncSession, currency: str, at: datetime
) -> Mapping[str, CurrentPrice]:
    # The token comes from the same statement (the same snapshot) as the rows, so the
    # copy is exactly the card that token stands for.
    stmt = (
        select(revision_token(), *_PRICE_COLUMNS)
        .join_from(
            RateCardItem.__table__, RateCardVersion.__table__, _VERSIONS.item_id == _ITEMS.id
        )
        .where(_ITEMS.currency == currency)
        .order_by(_ITEMS.code, _VERSIONS.effective_from.desc(), _VERSIONS.version.desc())
    )
    versions: dict[str, list[CurrentPrice]] = {}
    token: uuid.UUID | None = None
    for row in await session.execute(stmt):
        token = row[0]
        price = CurrentPrice._make(row[1:])
        versions.setdefault(price.code, []).append(price)
    card = _card(token, versions, at)
    if token is not None:  # no rows (or no token row): nothing worth holding
        _cards[currency] = card
    return card.in_force


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


_BUMP = update(_REVISION).values(token=func.gen_random_uuid())


async def _bump_revision(session: AsyncSession) -> None:
    """A fresh token, in the write's transaction: every held copy of the card stops
    being trusted once it commits (and a rolled-back write's token is never seen)."""
    await session.execute(_BUMP)


async def add_item(session: AsyncSession, item: RateCardItem) -> None:
    """A new item, flushed (a taken code raises ``IntegrityError``), and a fresh token."""
    session.add(item)
    await session.flush()
    await _bump_revision(session)


async def add_version(session: AsyncSession, version: RateCardVersion) -> None:
    """A new version of an item, flushed, and a fresh token."""
    session.add(version)
    await session.flush()
    await _bump_revision(session)
