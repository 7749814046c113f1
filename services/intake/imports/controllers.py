"""``/v1/imports``: upload a CSV (202), watch its progress, fetch its rejected rows.

Exports :data:`IMPORT_ROUTE_HANDLERS` for ``services/intake/app.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access import SCHEMA
from services.intake.imports import schemas
from services.intake.imports.models import Import as ImportRow
from services.intake.imports.queue import enqueue_after_commit
from services.intake.imports.service import CHUNK_BYTES, Started, imports
from shared.auth.guards import require_roles, require_scope
from shared.config import get_settings
from shared.context import Ctx, Role
from shared.db.session import scope_for, session_scope
from shared.errors import FieldError, ValidationFailed
from shared.http.idempotency import (
    IdempotencyKey,
    Outcome,
    idempotency_problems,
    idempotent,
    upload_content,
)
from shared.http.openapi import problem_spec
from shared.http.pagination import Page, PageParams
from shared.http.ratelimit import RATE_LIMITED
from shared.http.responses import created_headers

PEOPLE = (Role.CLIENT_ADMIN, Role.CLIENT_USER, Role.ADMIN, Role.ACCOUNT_MANAGER)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def _out(row: ImportRow, *, already_imported: bool = False) -> schemas.Import:
    body = msgspec.convert(row, schemas.Import, from_attributes=True)
    if already_imported:
        body = msgspec.structs.replace(body, already_imported=True)
    return body


def _mapping(raw: str | None) -> dict[str, str] | None:
    if raw is None or not raw.strip():
        return None
    try:
        mapping = msgspec.json.decode(raw, type=dict[str, str])
    except msgspec.DecodeError as exc:
        raise ValidationFailed(
            [FieldError("mapping", "invalid_mapping", f"a JSON object of strings: {exc}")]
        ) from None
    return mapping


async def _pieces(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(CHUNK_BYTES):
        yield piece


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]
    guards = [require_roles(*PEOPLE, allow_api_keys=True)]

    @post(
        "/",
        status_code=202,
        operation_id="CreateImport",
        guards=[require_scope("leads:write")],
        request_max_body_size=get_settings().max_upload_bytes,
        response_headers=created_headers("`/v1/imports/{id}`: the import's progress"),
        responses={
            200: ResponseSpec(
                schemas.Import,
                description="The same bytes were imported into this project before: that import",
            ),
            **idempotency_problems(),
            413: problem_spec("The file is over the upload limit (50 MB)"),
            429: RATE_LIMITED,
        },
    )
    async def create_import(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: Annotated[schemas.ImportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.Import]:
        """Upload a CSV (UTF-8 or Windows-1251, `,` or `;`, a header row; at most 50 MB).

        202 with the queued import; a worker imports it in batches. The same bytes for
        the same project again answer 200 with the first import (`already_imported`)
        unless `force=true`. Progress: `GET /v1/imports/{id}`. Accepts `Idempotency-Key`
        (the same request is the same form fields, file name and file bytes)."""
        started: Started | None = None

        async def content() -> bytes:
            fields = {"project_id": data.project_id, "mapping": data.mapping, "force": data.force}
            return await upload_content(fields, {"file": data.file})

        async def run() -> Outcome:
            nonlocal started
            started = await imports.start(
                session,
                ctx,
                project_id=data.project_id,
                source=_pieces(data.file),
                file_name=data.file.filename,
                mapping=_mapping(data.mapping),
                force=data.force,
            )
            row, again = started.row, started.already_imported
            body = _out(row, already_imported=again)
            return Outcome.of(200 if again else 202, body, location=f"/v1/imports/{row.id}")

        try:
            answer = await idempotent(
                request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run, content=content
            )
        finally:
            await data.file.close()
        if started is not None and not started.already_imported:
            # a new import (not a replay): the workers hear of it once committed
            row = started.row
            answer.background = BackgroundTask(enqueue_after_commit, row.tenant_id, row.id)
        return cast("Response[schemas.Import]", answer)  # the encoded bytes of an Import

    @get(
        "/",
        operation_id="ListImports",
        responses={429: RATE_LIMITED},
        guards=[require_scope("leads:read", "leads:write")],
    )
    async def list_imports(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        project_id: uuid.UUID | None = None,
    ) -> Page[schemas.Import]:
        """The caller's imports, newest first (filter by `project_id`)."""
        rows, cursor = await imports.list(session, ctx, project_id=project_id, params=page_params)
        return Page(items=[_out(r) for r in rows], next_cursor=cursor)

    @get(
        "/{import_id:uuid}",
        operation_id="GetImport",
        responses={429: RATE_LIMITED},
        guards=[require_scope("leads:read", "leads:write")],
    )
    async def get_import(
        self, ctx: Ctx, session: AsyncSession, import_id: uuid.UUID
    ) -> schemas.Import:
        """Progress: rows read, created, duplicates, rejected (`rows_estimate` is the total
        to expect)."""
        return _out(await imports.get(session, ctx, import_id))

    @get(
        "/{import_id:uuid}/errors",
        operation_id="GetImportErrors",
        responses={429: RATE_LIMITED},
        guards=[require_scope("leads:read", "leads:write")],
        media_type=CSV_MEDIA_TYPE,
    )
    async def get_import_errors(
        self, ctx: Ctx, session: AsyncSession, import_id: uuid.UUID
    ) -> Stream:
        """The rejected rows as CSV: `row`, `errors` (each reason as `field: message
        (code)`), then the file's own columns with the row's cells."""
        row = await imports.get(session, ctx, import_id)
        scope = scope_for(ctx)

        async def body() -> AsyncIterator[bytes]:
            # the request's session is closed once the handler returns: stream on our own
            async with session_scope(scope) as own:
                async for piece in imports.rejected_csv(own, row):
                    yield piece

        return Stream(
            body(),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="import-{row.id}-errors.csv"'},
        )

    @delete(
        "/{import_id:uuid}",
        operation_id="DeleteImport",
        responses={429: RATE_LIMITED},
        guards=[require_scope("leads:write")],
    )
    async def delete_import(self, ctx: Ctx, session: AsyncSession, import_id: uuid.UUID) -> None:
        """Delete the import with its stored file and rejected rows (the leads stay)."""
        await imports.delete(session, ctx, import_id)


IMPORT_ROUTE_HANDLERS = [ImportController]
