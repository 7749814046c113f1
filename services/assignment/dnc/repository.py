"""Every query of the do-not-call lists."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, delete, exists, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.dnc.models import DncGlobal, DncNumber
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id


async def add_tenant(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    phone_e164: str,
    reason: str | None,
    source: str,
    added_by: uuid.UUID | None,
) -> tuple[DncNumber, bool]:
    """Insert (or find) the tenant's entry; ``True`` when it is new."""
    stmt = (
        insert(DncNumber)
        .values(
            tenant_id=tenant_id,
            id=new_id(),
            phone_e164=phone_e164,
            reason=reason,
            source=source,
            added_by=added_by,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "phone_e164"])
        .returning(DncNumber.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    row = (
        await session.execute(
            select(DncNumber).where(
                DncNumber.tenant_id == tenant_id, DncNumber.phone_e164 == phone_e164
            )
        )
    ).scalar_one()
    return row, inserted is not None


async def add_global(
    session: AsyncSession,
    *,
    phone_e164: str,
    reason: str | None,
    source: str,
    added_by: uuid.UUID | None,
) -> tuple[DncGlobal, bool]:
    stmt = (
        insert(DncGlobal)
        .values(id=new_id(), phone_e164=phone_e164, reason=reason, source=source, added_by=added_by)
        .on_conflict_do_nothing(index_elements=["phone_e164"])
        .returning(DncGlobal.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    row = (
        await session.execute(select(DncGlobal).where(DncGlobal.phone_e164 == phone_e164))
    ).scalar_one()
    return row, inserted is not None


async def remove_tenant(session: AsyncSession, tenant_id: uuid.UUID, phone_e164: str) -> bool:
    result = await session.execute(
        delete(DncNumber)
        .where(DncNumber.tenant_id == tenant_id, DncNumber.phone_e164 == phone_e164)
        .returning(DncNumber.id)
    )
    return result.scalar_one_or_none() is not None


async def remove_global(session: AsyncSession, phone_e164: str) -> bool:
    result = await session.execute(
        delete(DncGlobal).where(DncGlobal.phone_e164 == phone_e164).returning(DncGlobal.id)
    )
    return result.scalar_one_or_none() is not None


async def on_tenant_list(session: AsyncSession, tenant_id: uuid.UUID, phone_e164: str) -> bool:
    stmt = select(
        exists().where(DncNumber.tenant_id == tenant_id, DncNumber.phone_e164 == phone_e164)
    )
    return bool((await session.execute(stmt)).scalar())


async def on_global_list(session: AsyncSession, phone_e164: str) -> bool:
    stmt = select(exists().where(DncGlobal.phone_e164 == phone_e164))
    return bool((await session.execute(stmt)).scalar())


async def is_listed(session: AsyncSession, tenant_id: uuid.UUID | None, phone_e164: str) -> bool:
    """One round trip, one index probe per list."""
    on_global = exists().where(DncGlobal.phone_e164 == phone_e164)
    if tenant_id is None:
        return bool((await session.execute(select(on_global))).scalar())
    on_tenant = exists().where(DncNumber.tenant_id == tenant_id, DncNumber.phone_e164 == phone_e164)
    return bool((await session.execute(select(or_(on_tenant, on_global)))).scalar())


async def listed_among(
    session: AsyncSession, tenant_id: uuid.UUID, phones: Collection[str]
) -> set[str]:
    """Which of ``phones`` are on the tenant's list or the global list."""
    if not phones:
        return set()
    values = list(set(phones))
    tenant_rows = await session.execute(
        select(DncNumber.phone_e164).where(
            DncNumber.tenant_id == tenant_id, DncNumber.phone_e164.in_(values)
        )
    )
    global_rows = await session.execute(
        select(DncGlobal.phone_e164).where(DncGlobal.phone_e164.in_(values))
    )
    return set(tenant_rows.scalars()) | set(global_rows.scalars())


async def page_tenant(
    session: AsyncSession, tenant_id: uuid.UUID | None, params: PageParams
) -> tuple[list[DncNumber], str | None]:
    stmt: Select[Any] = select(DncNumber)
    if tenant_id is not None:
        stmt = stmt.where(DncNumber.tenant_id == tenant_id)
    return await paginate(session, stmt, order_by=(DncNumber.added_at, DncNumber.id), params=params)


async def page_global(
    session: AsyncSession, params: PageParams
) -> tuple[list[DncGlobal], str | None]:
    return await paginate(
        session, select(DncGlobal), order_by=(DncGlobal.added_at, DncGlobal.id), params=params
    )


_PENDING_LISTED = text(
    """
    SELECT DISTINCT t.tenant_id, t.phone_e164, (g.phone_e164 IS NOT NULL) AS global
      FROM assignment.tasks t
      LEFT JOIN assignment.dnc_global g ON g.phone_e164 = t.phone_e164
      LEFT JOIN assignment.dnc_numbers d
             ON d.tenant_id = t.tenant_id AND d.phone_e164 = t.phone_e164
     WHERE t.status IN ('queued', 'leased')
       AND t.phone_e164 IS NOT NULL
       AND (g.phone_e164 IS NOT NULL OR d.phone_e164 IS NOT NULL)
     LIMIT :limit
    """
)


async def pending_listed(session: AsyncSession, limit: int) -> list[Any]:
    """``(tenant_id, phone_e164, global)`` of pending tasks whose number is listed."""
    return list((await session.execute(_PENDING_LISTED, {"limit": limit})).all())
