"""``kolokol import FILE --project ID [--tenant ID] [--mapping JSON]``.

The same path as ``POST /v1/imports`` (stored in PostgreSQL, same checks, same
"same file twice adds nothing"), acting as the platform; then the import is
processed right here in batches with a progress bar instead of by a worker. If the
command is interrupted, the import stays ``running`` and the resume job finishes it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.intake.imports import repository as repo
from services.intake.imports.schemas import ImportSummary
from services.intake.imports.service import CHUNK_BYTES, imports
from services.intake.imports.worker import Progress as ImportProgress
from services.intake.imports.worker import process_import
from shared.context import SYSTEM
from shared.db.session import STAFF, TenantScope, session_scope


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while piece := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield piece


async def import_file(
    path: str | Path,
    project_id: uuid.UUID | str,
    *,
    tenant_id: uuid.UUID | str | None = None,
    mapping: dict[str, str] | None = None,
    progress: bool = True,
    force: bool = False,
) -> ImportSummary:
    """Import the CSV at ``path`` into the project; returns the final counts.

    Raises the same typed errors as the HTTP route (``ImportFileInvalid``,
    ``ProjectNotFound``, ``TenantSuspended`` …) and ``FileNotFoundError``.
    """
    started_at = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    project = uuid.UUID(str(project_id))
    tenant = uuid.UUID(str(tenant_id)) if tenant_id is not None else None
    async with session_scope(STAFF) as session:
        started = await imports.start(
            session,
            SYSTEM,
            project_id=project,
            tenant_id=tenant,
            source=_read_file(path),
            file_name=path.name,
            mapping=mapping,
            force=force,
        )
    row = started.row
    if not started.already_imported:
        if progress:
            await _process_with_bar(row.tenant_id, row.id, row.rows_estimate, path.name)
        else:
            await process_import(row.tenant_id, row.id)
    async with session_scope(TenantScope(row.tenant_id)) as session:
        final = await repo.get(session, row.id, row.tenant_id)
    assert final is not None
    return ImportSummary(
        id=final.id,
        status=final.status,
        rows_read=final.rows_read,
        created=final.created,
        duplicates=final.duplicates,
        rejected=final.rejected,
        seconds=round(time.perf_counter() - started_at, 3),
        already_imported=started.already_imported,
        error=final.error,
    )


async def _process_with_bar(
    tenant_id: uuid.UUID, import_id: uuid.UUID, estimate: int, name: str
) -> None:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "created {task.fields[created]} · duplicates {task.fields[duplicates]}"
            " · rejected {task.fields[rejected]}"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(name, total=max(estimate, 1), created=0, duplicates=0, rejected=0)

        def update(p: ImportProgress) -> None:
            bar.update(
                task,
                completed=min(p.next_row, max(estimate, p.next_row)),
                total=max(estimate, p.next_row, 1),
                created=p.created,
                duplicates=p.duplicates,
                rejected=p.rejected,
            )

        await process_import(tenant_id, import_id, on_progress=update)
        current = bar.tasks[0]
        bar.update(task, completed=current.total)


def render_summary(summary: ImportSummary) -> str:
    """The command's closing line(s) for a terminal."""
    head = f"import {summary.id}: {summary.status}" + (
        " (this file was imported before; nothing added)" if summary.already_imported else ""
    )
    counts = (
        f"rows {summary.rows_read}: created {summary.created}, duplicates {summary.duplicates},"
        f" rejected {summary.rejected} in {summary.seconds:.1f} s"
    )
    lines = [head, counts]
    if summary.rejected:
        lines.append(f"rejected rows with reasons: GET /v1/imports/{summary.id}/errors")
    if summary.error:
        lines.append(f"error: {summary.error}")
    return "\n".join(lines)
