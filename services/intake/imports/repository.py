"""Every query on imports, their chunks and rejected rows; the tenant filter is in each.

The session's scope (tenant or staff) is enforced by row-level security as well; the
explicit ``tenant_id`` filters keep the primary-key index in play and make a
staff-scoped worker touch only the import it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.imports.models import UNFINISHED, Import, ImportChunk, RejectedRow
from shared.http.pagination import PageParams, paginate

ERRORS_PAGE = 1000


async def add(session: AsyncSession, row: Import) -> Import:
    session.add(row)
    await session.flush()
    return row


async def add_chunk(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID, seq: int, data: bytes
) -> None:
    await session.execute(
        insert(ImportChunk).values(tenant_id=tenant_id, import_id=import_id, seq=seq, data=data)
    )


async def get(
    session: AsyncSession, import_id: uuid.UUID, tenant_id: uuid.UUID | None = None
) -> Import | None:
    stmt = select(Import).where(Import.id == import_id)
    if tenant_id is not None:
        stmt = stmt.where(Import.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_same_file(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID, sha256: str
) -> Import | None:
    """The earlier (unforced) import of the same bytes into the same project."""
    return (
        await session.execute(
            select(Import).where(
                Import.tenant_id == tenant_id,
                Import.project_id == project_id,
                Import.file_sha256 == sha256,
                Import.forced.is_(False),
            )
        )
    ).scalar_one_or_none()


async def list_page(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    *,
    project_id: uuid.UUID | None,
    params: PageParams,
) -> tuple[list[Import], str | None]:
    stmt = select(Import)
    if tenant_id is not None:
        stmt = stmt.where(Import.tenant_id == tenant_id)
    if project_id is not None:
        stmt = stmt.where(Import.project_id == project_id)
    return await paginate(session, stmt, order_by=(Import.created_at, Import.id), params=params)


async def lock(session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID) -> Any | None:
    """The import's progress columns, row-locked until the transaction ends."""
    return (
        await session.execute(
            select(
                Import.status,
                Import.project_id,
                Import.next_row,
                Import.attempts,
                Import.chunk_count,
                Import.encoding,
                Import.delimiter,
                Import.columns,
                Import.mapping,
                Import.rows_estimate,
                Import.rows_read,
                Import.created,
                Import.duplicates,
                Import.rejected,
            )
            .where(Import.tenant_id == tenant_id, Import.id == import_id)
            .with_for_update()
        )
    ).one_or_none()


async def set_fields(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID, **values: Any
) -> None:
    await session.execute(
        update(Import)
        .where(Import.tenant_id == tenant_id, Import.id == import_id)
        .values(updated_at=func.now(), **values)
    )


async def advance(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    next_row: int,
    rows_read: int,
    created: int,
    duplicates: int,
    rejected: int,
) -> None:
    """Add one batch's counts and move the resume point (in the batch's transaction)."""
    await session.execute(
        update(Import)
        .where(Import.tenant_id == tenant_id, Import.id == import_id)
        .values(
            next_row=next_row,
            rows_read=Import.rows_read + rows_read,
            created=Import.created + created,
            duplicates=Import.duplicates + duplicates,
            rejected=Import.rejected + rejected,
            heartbeat_at=func.now(),
            updated_at=func.now(),
        )
    )


async def read_chunk(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID, seq: int
) -> bytes | None:
    data: bytes | None = await session.scalar(
        select(ImportChunk.data).where(
            ImportChunk.tenant_id == tenant_id,
            ImportChunk.import_id == import_id,
            ImportChunk.seq == seq,
        )
    )
    return data


async def drop_chunks(session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    await session.execute(
        delete(ImportChunk).where(
            ImportChunk.tenant_id == tenant_id, ImportChunk.import_id == import_id
        )
    )


async def add_rejected(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rejected rows (``tenant_id, import_id, row_no, raw, reasons`` dicts)."""
    if rows:
        await session.execute(insert(RejectedRow), list(rows))


async def iter_rejected(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID
) -> AsyncIterator[Sequence[Any]]:
    """The rejected rows in row order, a page of :data:`ERRORS_PAGE` at a time."""
    after = 0
    while True:
        rows = (
            await session.execute(
                select(RejectedRow.row_no, RejectedRow.raw, RejectedRow.reasons)
                .where(
                    RejectedRow.tenant_id == tenant_id,
                    RejectedRow.import_id == import_id,
                    RejectedRow.row_no > after,
                )
                .order_by(RejectedRow.row_no)
                .limit(ERRORS_PAGE)
            )
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].row_no


async def delete_import(session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """The import, its chunks and rejected rows (the foreign keys cascade)."""
    await session.execute(
        delete(Import).where(Import.tenant_id == tenant_id, Import.id == import_id)
    )


async def stale_unfinished(
    session: AsyncSession, *, queued_before: datetime, running_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, id)`` of imports nobody is working on: queued too long ago, or
    running with no committed batch (heartbeat) for a while. Staff scope."""
    rows = (
        await session.execute(
            select(Import.tenant_id, Import.id)
            .where(
                Import.status.in_(UNFINISHED),
                # every committed batch moves updated_at (and heartbeat_at)
                ((Import.status == "queued") & (Import.updated_at < queued_before))
                | ((Import.status == "running") & (Import.updated_at < running_before)),
            )
            .order_by(Import.updated_at)
            .limit(limit)
        )
    ).all()
    return [(r.tenant_id, r.id) for r in rows]


async def purge_rejected(session: AsyncSession, *, finished_before: datetime) -> int:
    """Erase the rejected rows and leftover chunks of imports ended before the cut-off."""
    ended = (
        select(Import.tenant_id, Import.id)
        .where(
            Import.finished_at < finished_before,
            Import.errors_purged_at.is_(None),
        )
        .limit(500)
    )
    targets = (await session.execute(ended)).all()
    if not targets:
        return 0
    for tenant_id, import_id in targets:
        await session.execute(
            delete(RejectedRow).where(
                RejectedRow.tenant_id == tenant_id, RejectedRow.import_id == import_id
            )
        )
        await drop_chunks(session, tenant_id, import_id)
        await set_fields(session, tenant_id, import_id, errors_purged_at=func.now())
    return len(targets)


async def status_of(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID
) -> str | None:
    """The import's status, or ``None`` when it is gone."""
    status: str | None = await session.scalar(
        select(Import.status).where(Import.tenant_id == tenant_id, Import.id == import_id)
    )
    return status
