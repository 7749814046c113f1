"""Processing an import: chunks in order, batches of 1 000 rows, resumable.

The worker reads the stored chunks one at a time, feeds them to the streaming
parser and gathers rows into batches. Each batch is ONE transaction: the import
row is locked, the rows are normalised (:func:`services.intake.leads.normalise.normalise`)
and stored (:func:`services.intake.leads.repository.insert_many`), the rejected
rows written, and the counters and ``next_row`` advanced, then it commits. So:

- a crash loses at most the batch in flight, whose effects rolled back with it; the
  next run skips the first ``next_row`` records (parsing only) and carries on, so no
  row is counted or stored twice;
- two runs of one import (a redelivered message, the resume job) cannot both apply
  a batch: a batch applies only if ``next_row`` is still where its run expects it;
  the run that finds it moved stops;
- memory holds one chunk, the record being parsed and one batch: constant whatever
  the file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.imports import repository as repo
from services.intake.imports.csv_reader import (
    UNREADABLE_ROW,
    ColumnPlan,
    CsvFormatError,
    ImportMappingInvalid,
    RecordParser,
    storable_cells,
    unreadable_cells,
)
from services.intake.imports.models import Import, ImportStatus
from services.intake.imports.rules import ensure_accepting
from services.intake.leads.normalise import NormalisedLead, normalise
from services.intake.leads.repository import insert_many
from services.intake.leads.schemas import LeadInput
from shared.db.session import TenantScope, make_session
from shared.errors import AppError, FieldError
from shared.messaging.outbox import PENDING_KEY

log = structlog.get_logger(__name__)

BATCH_ROWS = 1000
YIELD_EVERY = 50
"""Rows prepared between two turns of the event loop (lets the previous batch's writes on)."""
MAX_ATTEMPTS = 5
"""Runs an import may start before it is failed as hopeless (a crash each time)."""

_PATH = re.compile(r"at `\$\.([A-Za-z0-9_.\[\]]+)`")


@dataclass(frozen=True, slots=True)
class Progress:
    """Committed progress of an import, reported after every batch."""

    import_id: uuid.UUID
    status: str
    rows_estimate: int
    next_row: int
    rows_read: int
    created: int
    duplicates: int
    rejected: int


ProgressCallback = Callable[[Progress], Awaitable[None] | None]


@dataclass(slots=True)
class _Prepared:
    """A batch ready to write: records ``first..end`` as leads and rejected rows."""

    first: int
    end: int
    leads: list[NormalisedLead]
    rejected: list[dict[str, Any]]
    rows_read: int


class _Superseded(Exception):
    """Another run has moved the import on (or it is gone): this run stops."""


class _Stopped(Exception):
    """``max_batches`` reached: a test's simulated crash."""


def row_errors(exc: msgspec.ValidationError) -> list[FieldError]:
    """A msgspec validation message as a field error (``name``, ``consent.method``…)."""
    message = str(exc)
    match = _PATH.search(message)
    path = match.group(1) if match else ""
    text = message.split(" - at `", 1)[0]
    for marker, code in (("Object missing required field `", "required"),):
        if text.startswith(marker):
            name = text[len(marker) :].split("`")[0]
            return [FieldError(f"{path}.{name}" if path else name, code, "is required")]
    return [FieldError(path or "row", "invalid", text)]


def _reasons(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [e.as_dict() for e in errors]


class ImportRun:
    """One attempt at processing one import (see the module's description)."""

    def __init__(
        self,
        tenant_id: uuid.UUID,
        import_id: uuid.UUID,
        *,
        batch_rows: int = BATCH_ROWS,
        max_batches: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.import_id = import_id
        self.batch_rows = batch_rows
        self.max_batches = max_batches
        self.on_progress = on_progress
        self.actor = f"import:{import_id}"
        self.batches = 0

    async def run(self) -> str:
        """Process the import as far as it goes; returns its status afterwards
        (``done``, ``failed``, or ``running`` when this run stopped early)."""
        session = make_session(TenantScope(self.tenant_id))
        try:
            return await self._run(session)
        finally:
            await session.close()

    async def _run(self, session: AsyncSession) -> str:
        claim = await self._claim(session)
        if claim is None:
            status = await repo.status_of(session, self.tenant_id, self.import_id)
            await session.commit()
            return str(status or "gone")
        row, self.settings = claim
        self.project_id: uuid.UUID = row.project_id
        self.project_text = str(row.project_id)
        self.inflight: asyncio.Task[None] | None = None
        reader = make_session(TenantScope(self.tenant_id))
        try:
            position = await self._read_all(session, reader, row)
            await self._wait_inflight()
            return await self._finish(session, position)
        except _Superseded:
            await self._wait_inflight(quiet=True)
            await session.rollback()
            log.info("intake.import.superseded", import_id=str(self.import_id))
            return "running"
        except _Stopped:
            await self._wait_inflight(quiet=True)
            return "running"
        except (CsvFormatError, ImportMappingInvalid) as exc:
            await self._wait_inflight(quiet=True)
            await session.rollback()
            await self._fail(session, str(exc))
            return ImportStatus.FAILED.value
        except AppError as exc:  # the tenant or project stopped accepting leads
            await self._wait_inflight(quiet=True)
            await session.rollback()
            await self._fail(session, f"{exc.code}: {exc.detail}")
            return ImportStatus.FAILED.value
        except BaseException:
            await self._wait_inflight(quiet=True)
            raise
        finally:
            await reader.close()

    async def _read_all(self, session: AsyncSession, reader: AsyncSession, row: Any) -> int:
        """Feed every chunk to the parser and submit full batches; returns the position
        of the last record. Chunks are read on their own session (``reader``) while the
        previous batch is being written on ``session``."""
        plan = ColumnPlan.build(row.columns, row.mapping)
        parser = RecordParser(row.encoding, row.delimiter)
        resume_at: int = row.next_row
        position = -1  # the header is record 0
        batch: list[tuple[int, list[str]]] = []
        for seq in range(row.chunk_count):
            data = await repo.read_chunk(reader, self.tenant_id, self.import_id, seq)
            await reader.commit()
            if data is None:
                raise _Superseded
            for record in parser.feed(data):
                position += 1
                if position <= resume_at:
                    continue
                batch.append((position, record))
                if len(batch) >= self.batch_rows:
                    await self._submit(session, plan, batch)
                    batch = []
            del data
        for record in parser.close():
            position += 1
            if position > resume_at:
                batch.append((position, record))
        if batch:
            await self._submit(session, plan, batch)
        return position

    async def _submit(
        self, session: AsyncSession, plan: ColumnPlan, batch: list[tuple[int, list[str]]]
    ) -> None:
        """Prepare ``batch`` (CPU) while the previous one is written (database), then
        start writing it: the two overlap, the writes stay in order."""
        if self.max_batches is not None and self.batches >= self.max_batches:
            await self._wait_inflight()
            raise _Stopped
        prepared = await self._prepare(plan, batch)
        await self._wait_inflight()
        self.inflight = asyncio.create_task(self._apply(session, prepared))
        self.batches += 1

    async def _wait_inflight(self, *, quiet: bool = False) -> None:
        task, self.inflight = self.inflight, None
        if task is None:
            return
        if quiet:
            with contextlib.suppress(Exception):
                await task
        else:
            await task

    async def _prepare(self, plan: ColumnPlan, batch: list[tuple[int, list[str]]]) -> _Prepared:
        """Rows → normalised leads and rejected rows. Pure CPU; it lets the event loop
        run every few rows so that the batch being written makes progress meanwhile."""
        leads: list[NormalisedLead] = []
        rejected: list[dict[str, Any]] = []
        rows_read = 0
        for i, (position, cells) in enumerate(batch):
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if not any(c.strip() for c in cells):
                continue  # a blank line is not a row
            rows_read += 1
            errors: list[FieldError]
            if unreadable_cells(cells):
                errors = [UNREADABLE_ROW]
                cells = storable_cells(cells)
            else:
                try:
                    raw = msgspec.convert(plan.lead_dict(cells, self.project_text), LeadInput)
                except msgspec.ValidationError as exc:
                    errors = row_errors(exc)
                else:
                    result = normalise(raw, self.settings)
                    if isinstance(result, NormalisedLead):
                        leads.append(result)
                        continue
                    errors = result
            rejected.append(
                {
                    "tenant_id": self.tenant_id,
                    "import_id": self.import_id,
                    "row_no": position,
                    "raw": cells,
                    "reasons": _reasons(errors),
                }
            )
        return _Prepared(
            first=batch[0][0],
            end=batch[-1][0],
            leads=leads,
            rejected=rejected,
            rows_read=rows_read,
        )

    async def _claim(self, session: AsyncSession) -> tuple[Any, dict[str, Any]] | None:
        row = await repo.lock(session, self.tenant_id, self.import_id)
        if row is None or row.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
            await session.rollback()
            return None
        if row.attempts >= MAX_ATTEMPTS:
            await repo.set_fields(
                session,
                self.tenant_id,
                self.import_id,
                status=ImportStatus.FAILED.value,
                error=f"gave up after {row.attempts} attempts",
                finished_at=func.now(),
            )
            await session.commit()
            return None
        try:
            settings = await ensure_accepting(session, self.tenant_id, row.project_id)
        except AppError as exc:
            await repo.set_fields(
                session,
                self.tenant_id,
                self.import_id,
                status=ImportStatus.FAILED.value,
                error=f"{exc.code}: {exc.detail}",
                finished_at=func.now(),
            )
            await session.commit()
            return None
        await repo.set_fields(
            session,
            self.tenant_id,
            self.import_id,
            status=ImportStatus.RUNNING.value,
            attempts=row.attempts + 1,
            started_at=func.coalesce(Import.started_at, func.now()),
            heartbeat_at=func.now(),
        )
        await session.commit()
        log.info(
            "intake.import.started",
            import_id=str(self.import_id),
            resume_at=row.next_row,
            attempt=row.attempts + 1,
        )
        return row, settings

    async def _apply(self, session: AsyncSession, batch: _Prepared) -> None:
        """Write one prepared batch in one transaction (see the module's description)."""
        row = await repo.lock(session, self.tenant_id, self.import_id)
        if row is None or row.status != ImportStatus.RUNNING or row.next_row != batch.first - 1:
            await session.rollback()
            raise _Superseded
        await ensure_accepting(session, self.tenant_id, self.project_id)
        created = duplicates = 0
        if batch.leads:
            outcomes = await insert_many(
                session, self.tenant_id, self.project_id, batch.leads, actor=self.actor
            )
            created = sum(1 for o in outcomes if o.created)
            duplicates = len(outcomes) - created
        await repo.add_rejected(session, batch.rejected)
        await repo.advance(
            session,
            self.tenant_id,
            self.import_id,
            next_row=batch.end,
            rows_read=batch.rows_read,
            created=created,
            duplicates=duplicates,
            rejected=len(batch.rejected),
        )
        # a bulk import leaves its lead.received events to the relay's sweep: publishing
        # a thousand messages after every batch would halve the import's speed
        session.info.pop(PENDING_KEY, None)
        await session.commit()
        await self._report(
            row,
            next_row=batch.end,
            rows_read=batch.rows_read,
            created=created,
            duplicates=duplicates,
            rejected=len(batch.rejected),
        )

    async def _finish(self, session: AsyncSession, position: int) -> str:
        row = await repo.lock(session, self.tenant_id, self.import_id)
        if row is None or row.status != ImportStatus.RUNNING:
            await session.rollback()
            return str(row.status) if row is not None else "gone"
        await repo.set_fields(
            session,
            self.tenant_id,
            self.import_id,
            status=ImportStatus.DONE.value,
            finished_at=func.now(),
            heartbeat_at=func.now(),
        )
        await repo.drop_chunks(session, self.tenant_id, self.import_id)
        await session.commit()
        log.info("intake.import.done", import_id=str(self.import_id), rows=position)
        return ImportStatus.DONE.value

    async def _fail(self, session: AsyncSession, reason: str) -> None:
        await repo.set_fields(
            session,
            self.tenant_id,
            self.import_id,
            status=ImportStatus.FAILED.value,
            error=reason[:1000],
            finished_at=func.now(),
        )
        await session.commit()
        log.warning("intake.import.failed", import_id=str(self.import_id), reason=reason[:200])

    async def _report(self, row: Any, **delta: int) -> None:
        """Tell ``on_progress`` the committed counts: the locked row's plus the batch's."""
        if self.on_progress is None:
            return
        result = self.on_progress(
            Progress(
                import_id=self.import_id,
                status=str(row.status),
                rows_estimate=row.rows_estimate,
                next_row=delta["next_row"],
                rows_read=row.rows_read + delta["rows_read"],
                created=row.created + delta["created"],
                duplicates=row.duplicates + delta["duplicates"],
                rejected=row.rejected + delta["rejected"],
            )
        )
        if result is not None:
            await result


async def process_import(
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    batch_rows: int = BATCH_ROWS,
    max_batches: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> str:
    """Process (or resume) one import; safe to call twice, at once or after a crash.

    ``max_batches`` stops after that many committed batches, leaving the import
    ``running`` as a crashed worker would (tests use it).
    """
    run = ImportRun(
        tenant_id,
        import_id,
        batch_rows=batch_rows,
        max_batches=max_batches,
        on_progress=on_progress,
    )
    return await run.run()
