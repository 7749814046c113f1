"""Quote queries. Every read filters by tenant when the caller is a client (and RLS binds too)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVarTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, delete, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.quotes.models import (
    OPEN_STATUSES,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
)
from services.pricing.tenants import TenantMirror
from shared.context import Ctx
from shared.http.pagination import PageParams, paginate

Ts = TypeVarTuple("Ts")


def _visible(stmt: Select[*Ts], ctx: Ctx) -> Select[*Ts]:
    if ctx.is_staff:
        return stmt
    return stmt.where(Quote.tenant_id == ctx.tenant_id)


async def get(
    session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, for_update: bool = False
) -> Quote | None:
    stmt = _visible(select(Quote).where(Quote.id == quote_id), ctx)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def get_version(session: AsyncSession, quote: Quote, version: int) -> QuoteVersion | None:
    return await session.scalar(
        select(QuoteVersion).where(
            QuoteVersion.tenant_id == quote.tenant_id,
            QuoteVersion.quote_id == quote.id,
            QuoteVersion.version == version,
        )
    )


async def versions(session: AsyncSession, quote: Quote) -> list[QuoteVersion]:
    rows = await session.scalars(
        select(QuoteVersion)
        .where(QuoteVersion.tenant_id == quote.tenant_id, QuoteVersion.quote_id == quote.id)
        .order_by(QuoteVersion.version)
    )
    return list(rows)


async def lines(session: AsyncSession, quote: Quote, version: int) -> list[QuoteLine]:
    rows = await session.scalars(
        select(QuoteLine)
        .where(
            QuoteLine.tenant_id == quote.tenant_id,
            QuoteLine.quote_id == quote.id,
            QuoteLine.version == version,
        )
        .order_by(QuoteLine.position)
    )
    return list(rows)


_LINE_COLUMNS = (
    ("id", "uuid"),
    ("position", "int"),
    ("rate_code", "text"),
    ("rate_card_item_id", "uuid"),
    ("rate_card_version", "int"),
    ("name", "text"),
    ("kind", "text"),
    ("unit", "text"),
    ("quantity", "numeric"),
    ("list_unit_price", "bigint"),
    ("unit_price", "bigint"),
    ("override_reason", "text"),
    ("discount_pct", "numeric"),
    ("net", "bigint"),
)
_INSERT_LINES = text(
    "INSERT INTO pricing.quote_lines (tenant_id, quote_id, version, "
    + ", ".join(name for name, _ in _LINE_COLUMNS)
    + ") SELECT CAST(:tenant_id AS uuid), CAST(:quote_id AS uuid), CAST(:version AS int), * "
    + "FROM unnest("
    + ", ".join(f"CAST(:{name} AS {sql}[])" for name, sql in _LINE_COLUMNS)
    + ")"
)


async def insert_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """All lines of a version in one statement (one array per column, ``unnest``).

    ``rows`` share ``tenant_id``, ``quote_id`` and ``version``. One statement with a
    fixed number of parameters whatever the number of lines: no per-row ORM work and
    one execution on the server instead of one per line. The caller keeps ``rows``
    (they hold every column) to answer without reading back.
    """
    if not rows:
        return
    first = rows[0]
    params: dict[str, Any] = {
        "tenant_id": first["tenant_id"],
        "quote_id": first["quote_id"],
        "version": first["version"],
    }
    for name, _ in _LINE_COLUMNS:
        params[name] = [row[name] for row in rows]
    await session.execute(_INSERT_LINES, params)


async def delete_lines(session: AsyncSession, quote: Quote, version: int) -> None:
    await session.execute(
        delete(QuoteLine).where(
            QuoteLine.tenant_id == quote.tenant_id,
            QuoteLine.quote_id == quote.id,
            QuoteLine.version == version,
        )
    )


async def list_page(
    session: AsyncSession,
    ctx: Ctx,
    *,
    params: PageParams,
    project_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    status: QuoteStatus | None = None,
) -> tuple[list[tuple[Quote, QuoteVersion, list[QuoteLine]]], str | None]:
    """A page of quotes, newest first, each with its current version and lines (3 queries)."""
    stmt = _visible(select(Quote), ctx)
    if project_id is not None:
        stmt = stmt.where(Quote.project_id == project_id)
    if tenant_id is not None:
        stmt = stmt.where(Quote.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(Quote.status == status.value)
    page, cursor = await paginate(
        session, cast("Select[Any]", stmt), order_by=(Quote.created_at, Quote.id), params=params
    )
    if not page:
        return [], cursor
    keys = [(q.tenant_id, q.id, q.current_version) for q in page]
    found = await session.scalars(
        select(QuoteVersion).where(
            tuple_(QuoteVersion.tenant_id, QuoteVersion.quote_id, QuoteVersion.version).in_(keys)
        )
    )
    by_quote = {v.quote_id: v for v in found}
    all_lines = await session.scalars(
        select(QuoteLine)
        .where(tuple_(QuoteLine.tenant_id, QuoteLine.quote_id, QuoteLine.version).in_(keys))
        .order_by(QuoteLine.position)
    )
    lines_of: dict[uuid.UUID, list[QuoteLine]] = {}
    for line in all_lines:
        lines_of.setdefault(line.quote_id, []).append(line)
    return [(q, by_quote[q.id], lines_of.get(q.id, [])) for q in page], cursor


async def supersede_open(
    session: AsyncSession, quote: Quote, *, actor: str, at: datetime
) -> list[uuid.UUID]:
    """Other open quotes of the same project become ``superseded``."""
    result = await session.execute(
        update(Quote)
        .where(
            Quote.tenant_id == quote.tenant_id,
            Quote.project_id == quote.project_id,
            Quote.id != quote.id,
            Quote.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .values(status=QuoteStatus.SUPERSEDED.value, decided_at=at, decided_by=actor, updated_at=at)
        .returning(Quote.id)
    )
    return list(result.scalars())


async def expire_due(session: AsyncSession, *, at: datetime) -> int:
    """Sent quotes whose current version's ``valid_until`` has passed in the tenant's zone.

    A quote is valid through its ``valid_until`` day in the tenant's time zone; it
    expires from the next local midnight. One statement (staff scope).
    """
    local_today = func.timezone(TenantMirror.timezone, at).cast(QuoteVersion.valid_until.type)
    due = (
        select(Quote.tenant_id, Quote.id)
        .join(
            QuoteVersion,
            (QuoteVersion.tenant_id == Quote.tenant_id)
            & (QuoteVersion.quote_id == Quote.id)
            & (QuoteVersion.version == Quote.current_version),
        )
        .join(TenantMirror, TenantMirror.id == Quote.tenant_id)
        .where(Quote.status == QuoteStatus.SENT.value, QuoteVersion.valid_until < local_today)
    )
    result = await session.execute(
        update(Quote)
        .where(Quote.status == QuoteStatus.SENT.value)
        .where(tuple_(Quote.tenant_id, Quote.id).in_(due))
        .values(status=QuoteStatus.EXPIRED.value, decided_at=at, decided_by="system", updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def today_in(timezone: str, at: datetime) -> date:
    """The calendar day at ``at`` in ``timezone`` (falls back to UTC for an unknown zone)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    result: date = at.astimezone(zone).date()
    return result
