"""Rate card rules: items are versioned; a change is a new version effective from a date.

Quote lines copy the price and the item version they used, so nothing here can
change a quote already made.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import (
    RateCardBackdated,
    RateCardCodeTaken,
    RateCardItemNotFound,
)
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.rate_card import repository
from services.pricing.rate_card.models import RateCardItem, RateCardVersion, Unit
from services.pricing.rate_card.schemas import (
    RateCardItemCreate,
    RateCardItemDetail,
    RateCardItemUpdate,
    RateCardPrice,
    RateCardVersionOut,
)
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import FieldError
from shared.http.pagination import Page, PageParams
from shared.ids import new_id


def to_price(item: RateCardItem, version: RateCardVersion) -> RateCardPrice:
    return RateCardPrice(
        id=item.id,
        code=item.code,
        currency=item.currency,
        version=version.version,
        name=version.name,
        description=version.description,
        unit=Unit(version.unit),
        kind=LineKind(version.kind),
        unit_price=version.unit_price,
        effective_from=version.effective_from,
    )


def price_of(row: repository.CurrentPrice) -> RateCardPrice:
    """The wire shape of a current price row (the same fields as :func:`to_price`)."""
    return RateCardPrice(
        id=row.id,
        code=row.code,
        currency=row.currency,
        version=row.version,
        name=row.name,
        description=row.description,
        unit=Unit(row.unit),
        kind=LineKind(row.kind),
        unit_price=row.unit_price,
        effective_from=row.effective_from,
    )


def _effective(day: date | None, now: datetime) -> datetime:
    return now if day is None else datetime.combine(day, time.min, tzinfo=UTC)


async def current_prices(
    session: AsyncSession,
    currency: str,
    at: datetime | None = None,
    *,
    codes: Sequence[str] | None = None,
) -> dict[str, RateCardPrice]:
    """The items of ``currency`` (all, or only ``codes``) at the version in force at ``at``
    (default now), by code. One query, whatever the number of items.
    """
    rows = await repository.current(session, at or utcnow(), currency=currency, codes=codes)
    return {row.code: price_of(row) for row in rows}


class RateCardService:
    async def list_current(
        self, session: AsyncSession, *, params: PageParams, currency: str | None = None
    ) -> Page[RateCardPrice]:
        rows, cursor = await repository.current_page(
            session, utcnow(), params=params, currency=currency
        )
        return Page(items=[price_of(row) for row in rows], next_cursor=cursor)

    async def get(self, session: AsyncSession, item_id: uuid.UUID) -> RateCardItemDetail:
        item = await repository.get_item(session, item_id)
        if item is None:
            raise RateCardItemNotFound()
        return await self._detail(session, item)

    async def create(
        self, session: AsyncSession, ctx: Ctx, data: RateCardItemCreate
    ) -> RateCardItemDetail:
        if await repository.find_item(session, data.code, data.currency) is not None:
            raise RateCardCodeTaken(f"{data.code!r} already exists in {data.currency}")
        item = RateCardItem(
            id=new_id(),
            code=data.code,
            currency=data.currency,
            created_by=ctx.principal_id,
            created_at=utcnow(),
        )
        try:
            await repository.add_item(session, item)
        except IntegrityError as exc:  # a concurrent create of the same code won
            raise RateCardCodeTaken(f"{data.code!r} already exists in {data.currency}") from exc
        await repository.add_version(
            session,
            RateCardVersion(
                id=new_id(),
                item_id=item.id,
                version=1,
                name=data.name,
                description=data.description,
                unit=data.unit.value,
                kind=data.kind.value,
                unit_price=data.unit_price,
                effective_from=_effective(data.effective_from, utcnow()),
                created_by=ctx.principal_id,
                created_at=utcnow(),
            ),
        )
        return await self._detail(session, item)

    async def update(
        self, session: AsyncSession, ctx: Ctx, item_id: uuid.UUID, data: RateCardItemUpdate
    ) -> RateCardItemDetail:
        """A new version from ``effective_from`` (default now); earlier versions stay."""
        item = await repository.lock_item(session, item_id)
        if item is None:
            raise RateCardItemNotFound()
        latest = await repository.latest_version(session, item_id)
        assert latest is not None  # an item is created with its first version
        now = utcnow()
        effective_from = _effective(data.effective_from, now)
        if effective_from < latest.effective_from:
            raise RateCardBackdated(
                [
                    FieldError(
                        "effective_from",
                        "before_latest_version",
                        "must not be before the newest version's "
                        f"{latest.effective_from.date().isoformat()}",
                    )
                ]
            )
        await repository.add_version(
            session,
            RateCardVersion(
                id=new_id(),
                item_id=item.id,
                version=latest.version + 1,
                name=data.name if data.name is not None else latest.name,
                description=(
                    data.description if data.description is not None else latest.description
                ),
                unit=data.unit.value if data.unit is not None else latest.unit,
                kind=data.kind.value if data.kind is not None else latest.kind,
                unit_price=data.unit_price if data.unit_price is not None else latest.unit_price,
                effective_from=effective_from,
                created_by=ctx.principal_id,
                created_at=now,
            ),
        )
        return await self._detail(session, item)

    async def _detail(self, session: AsyncSession, item: RateCardItem) -> RateCardItemDetail:
        versions = await repository.versions(session, item.id)
        now = utcnow()
        in_force = [v for v in versions if v.effective_from <= now]
        current = max(in_force, key=lambda v: (v.effective_from, v.version)) if in_force else None
        ordered = sorted(versions, key=lambda v: (v.effective_from, v.version))
        ends: dict[int, datetime | None] = {}
        for i, v in enumerate(ordered):
            ends[v.version] = ordered[i + 1].effective_from if i + 1 < len(ordered) else None
        return RateCardItemDetail(
            id=item.id,
            code=item.code,
            currency=item.currency,
            current=to_price(item, current) if current is not None else None,
            versions=[
                RateCardVersionOut(
                    version=v.version,
                    name=v.name,
                    description=v.description,
                    unit=Unit(v.unit),
                    kind=LineKind(v.kind),
                    unit_price=v.unit_price,
                    effective_from=v.effective_from,
                    effective_to=ends[v.version],
                    created_at=v.created_at,
                )
                for v in versions
            ],
        )


rate_card = RateCardService()
