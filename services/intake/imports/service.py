"""The rules of imports: accept an upload, show it, list its rejected rows, delete it.

An upload streams into ``intake.import_chunks`` (~1 MB each) while its SHA-256 is
computed, its encoding detected (every byte is checked once) and its line breaks
counted; the header is read from the first chunk and the column mapping checked
against it before anything is committed, so a file that cannot be imported is a
422 at once rather than a failed import later.

"Importing the same file twice adds nothing": the same bytes for the same project
answer with the first import (``already_imported``) unless ``force``; a unique
index on ``(tenant_id, project_id, file_sha256) WHERE NOT forced`` settles two
simultaneous uploads. Either way the leads' own dedupe (phone, external id) makes a
re-import all duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from services.intake.errors import ImportFileInvalid, ImportNotFound, NoTenant, ProjectNotFound
from services.intake.imports import repository as repo
from services.intake.imports.csv_reader import (
    ColumnPlan,
    CsvFormatError,
    CsvHeader,
    EncodingDetector,
    ImportMappingInvalid,
    read_header,
)
from services.intake.imports.models import Import, ImportStatus
from services.intake.imports.rules import ensure_accepting
from services.intake.mirrors import repository as mirrors
from shared.context import Ctx
from shared.errors import FieldError
from shared.http.pagination import PageParams
from shared.ids import new_id

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Started:
    """The outcome of an upload: the import, and whether it is an earlier one."""

    row: Import
    already_imported: bool


async def rechunk(source: AsyncIterator[bytes], size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """Pieces of any size in, pieces of exactly ``size`` out (the last one shorter)."""
    buffer = bytearray()
    async for piece in source:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class _Upload:
    """What is learnt of a file while its chunks are stored: SHA-256, encoding, size,
    line breaks, and its first and last chunks (the header; the row estimate)."""

    __slots__ = ("chunks", "detector", "digest", "first", "last", "lines", "size")

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.detector = EncodingDetector()
        self.first = self.last = b""
        self.size = self.lines = self.chunks = 0

    def feed(self, chunk: bytes) -> None:
        if self.chunks == 0:
            self.first = chunk
        self.digest.update(chunk)
        self.detector.feed(chunk)
        self.lines += chunk.count(b"\n")
        self.size += len(chunk)
        self.last = chunk
        self.chunks += 1

    def header(self, mapping: Mapping[str, str] | None) -> CsvHeader:
        """The file's header, its mapping checked against it; 422 for an empty file,
        an unreadable header or a mapping that does not fit."""
        self.detector.feed(b"", final=True)
        if self.size == 0:
            raise ImportFileInvalid([FieldError("file", "empty_file", "the file is empty")])
        try:
            header = read_header(self.first, self.detector.encoding, final=self.chunks == 1)
            ColumnPlan.build(header.columns, mapping)
        except CsvFormatError as exc:
            raise ImportFileInvalid([exc.field_error]) from None
        except ImportMappingInvalid as exc:
            raise ImportFileInvalid(exc.errors) from None
        return header

    @property
    def rows_estimate(self) -> int:
        """Data rows: line breaks, plus an unterminated last line, less the header."""
        return max(self.lines - (0 if self.last.endswith(b"\n") else -1) - 1, 0)


class ImportService:
    async def start(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        project_id: uuid.UUID,
        source: AsyncIterator[bytes],
        file_name: str | None = None,
        mapping: Mapping[str, str] | None = None,
        force: bool = False,
        tenant_id: uuid.UUID | None = None,
    ) -> Started:
        """Store an upload as a queued import (the caller enqueues it after commit)."""
        tenant_id = await self._tenant_of(session, ctx, project_id, tenant_id)
        await ensure_accepting(session, tenant_id, project_id)
        savepoint = await session.begin_nested()
        row = await repo.add(
            session,
            Import(
                tenant_id=tenant_id,
                id=new_id(),
                project_id=project_id,
                status=ImportStatus.QUEUED.value,
                file_name=(file_name or None) and file_name[:255],
                forced=force,
                encoding="",
                delimiter=",",
                columns=[],
                mapping=dict(mapping) if mapping else None,
                created_by=ctx.actor,
            ),
        )
        upload = _Upload()
        async for chunk in rechunk(source):
            await repo.add_chunk(session, tenant_id, row.id, upload.chunks, chunk)
            upload.feed(chunk)
        header = upload.header(mapping)
        sha = upload.digest.hexdigest()
        if not force:
            earlier = await repo.find_same_file(session, tenant_id, project_id, sha)
            if earlier is not None:
                await savepoint.rollback()
                return Started(earlier, already_imported=True)
        return await self._complete(session, savepoint, row, upload, header, sha)

    async def _complete(
        self,
        session: AsyncSession,
        savepoint: AsyncSessionTransaction,
        row: Import,
        upload: _Upload,
        header: CsvHeader,
        sha: str,
    ) -> Started:
        """Record what was learnt of the file on the import; when the same file, uploaded
        at the same moment, committed first (the unique index), answer with that one."""
        tenant_id, project_id = row.tenant_id, row.project_id  # a rollback expires ``row``
        try:
            await repo.set_fields(
                session,
                tenant_id,
                row.id,
                file_sha256=sha,
                size_bytes=upload.size,
                chunk_count=upload.chunks,
                encoding=header.encoding,
                delimiter=header.delimiter,
                columns=header.columns,
                rows_estimate=upload.rows_estimate,
            )
            await savepoint.commit()
        except IntegrityError:
            await savepoint.rollback()
            earlier = await repo.find_same_file(session, tenant_id, project_id, sha)
            if earlier is None:
                raise
            return Started(earlier, already_imported=True)
        await session.refresh(row)
        return Started(row, already_imported=False)

    async def get(self, session: AsyncSession, ctx: Ctx, import_id: uuid.UUID) -> Import:
        row = await repo.get(session, import_id, None if ctx.is_staff else ctx.tenant_id)
        if row is None or (not ctx.is_staff and ctx.tenant_id is None):
            raise ImportNotFound()
        return row

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        project_id: uuid.UUID | None,
        params: PageParams,
    ) -> tuple[list[Import], str | None]:
        if not ctx.is_staff and ctx.tenant_id is None:
            raise NoTenant()
        tenant_id = None if ctx.is_staff else ctx.tenant_id
        return await repo.list_page(session, tenant_id, project_id=project_id, params=params)

    async def delete(self, session: AsyncSession, ctx: Ctx, import_id: uuid.UUID) -> None:
        """Delete the import with its stored file and rejected rows (personal data).

        Leads it created stay (each is erased on its own); a worker still processing it
        stops at its next batch.
        """
        row = await self.get(session, ctx, import_id)
        await repo.delete_import(session, row.tenant_id, row.id)

    async def rejected_csv(self, session: AsyncSession, row: Import) -> AsyncIterator[bytes]:
        """The rejected rows as CSV in the file's own delimiter, UTF-8 with a BOM (so that
        spreadsheet programs read Cyrillic right): ``row``, ``errors``, then the file's
        columns with the row's cells, ready to fix and upload again."""
        yield "\ufeff".encode()
        yield _csv_line(["row", "errors", *row.columns], row.delimiter)
        async for page in repo.iter_rejected(session, row.tenant_id, row.id):
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=row.delimiter, lineterminator="\r\n")
            for rejected in page:
                writer.writerow([rejected.row_no, describe(rejected.reasons), *list(rejected.raw)])
            yield buffer.getvalue().encode()

    async def _tenant_of(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
    ) -> uuid.UUID:
        """The tenant an upload belongs to: the caller's, or for staff the project's."""
        if not ctx.is_staff:
            if ctx.tenant_id is None:
                raise NoTenant()
            return ctx.tenant_id
        owner = await mirrors.project_owner(session, project_id)
        if owner is None or (tenant_id is not None and owner != tenant_id):
            raise ProjectNotFound()
        found: uuid.UUID = owner
        return found


def describe(reasons: list[dict[str, Any]]) -> str:
    """``phone: not a valid number for region RU (invalid_phone); …`` for people."""
    return "; ".join(f"{r['field']}: {r['message']} ({r['code']})" for r in reasons)


def _csv_line(cells: list[Any], delimiter: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


imports = ImportService()
