"""``Idempotency-Key`` for creating POSTs: a retried request gets the first answer.

Per API.md: the same key with the same request replays the first response byte for
byte with ``Idempotent-Replayed: true``; the same key with another request is 422
``idempotency_mismatch``; the same key while the first request still runs is 409
``idempotency_in_progress``. Keys are scoped to the tenant and kept 24 hours.

Storage lives in the calling service's schema, table ``<schema>.idempotency_keys``
(``tenant_id``, ``key``, ``request_hash``, ``status_code``, ``headers`` jsonb, ``body``
bytea, ``resource_ids`` uuid[], ``created_at``, ``expires_at``), and the record is
written in the SAME transaction as the effect, so a response is stored exactly when
what it describes is committed.

"Still running" is a transaction-scoped advisory lock on the key: the first request
takes it before doing anything and holds it until its transaction ends; a second
request that cannot take it is in progress's 409. After the first commits, the lock
is free and the record visible, so the second sees the record and replays it.

Usage in a handler (the handler encodes its body itself, so the stored bytes are the
sent bytes)::

    return await idempotent(request, session, schema="intake", tenant_id=t,
                            run=lambda: make_response())

A plain creating POST (201 with the object and its ``Location``) uses
:func:`shared.http.responses.create_once` instead. The contract's other halves live
here too, so every service documents and keeps the key the same way: the header
parameter (:data:`IdempotencyKey`), the replay header (:data:`REPLAYED`), the
documented problems (:func:`idempotency_problems`), the table
(:mod:`shared.http.idempotency_tables`) and its cleanup (:func:`purge_job`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import STAFF, session_scope
from shared.errors import AppError, Conflict, FieldError, ValidationFailed
from shared.http.openapi import documented_header, problem_spec
from shared.scheduling.registry import JobFunc, periodic

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
NO_TENANT = uuid.UUID(int=0)
"""The scope of keys sent by callers without a tenant (staff)."""
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEPT_HEADERS = ("location", "content-type")
_UPLOAD_CHUNK = 1024 * 1024

IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header=HEADER,
        required=False,
        description=(
            "Makes a retry safe for 24 hours (per tenant): the same key and body replay the"
            f" first answer with `{REPLAYED_HEADER}: true`; another body is 422"
            " `idempotency_mismatch`; while the first request runs, 409"
            " `idempotency_in_progress`."
        ),
    ),
]
"""The documented header parameter of a POST that honours the key (the handler takes
``idempotency_key: IdempotencyKey = None``; :func:`idempotent` reads the header)."""

REPLAYED = documented_header(
    REPLAYED_HEADER,
    "`true` when this is the stored answer to an earlier request with the same key",
)


class IdempotencyMismatch(AppError):
    status = 422
    code = "idempotency_mismatch"
    title = "Idempotency key reused with a different request"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "A request with this idempotency key is still running"


class IdempotentResponseErased(AppError):
    status = 410
    code = "idempotency_response_erased"
    title = "The stored answer held personal data that has been erased"


def idempotency_problems(
    *, s409: str | None = None, s422: str | None = None, erased: str | None = None
) -> dict[int, ResponseSpec]:
    """The problem answers the key adds to a route, merged with the route's own codes.

    409 ``idempotency_in_progress`` (and ``s409``, the route's conflicts); 422 ``s422``
    (default: per-field validation) and ``idempotency_mismatch``; and 410
    ``idempotency_response_erased`` where stored answers can be erased (``erased``
    says what: "an erased lead").
    """
    in_progress = "`idempotency_in_progress` (the first request with this key still runs; retry)"
    mismatch = "`idempotency_mismatch` (the key was used with another request)"
    validation = s422 or "`validation` (per-field `errors`)"
    specs = {
        409: problem_spec(f"{in_progress}, or {s409}" if s409 else in_progress),
        422: problem_spec(f"{validation}, or {mismatch}"),
    }
    if erased:
        specs[410] = problem_spec(
            f"`idempotency_response_erased`: the first answer described {erased}"
        )
    return specs


@dataclass(slots=True)
class Outcome:
    """What a handler produced: the exact bytes to send (and store)."""

    status_code: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    resource_ids: list[uuid.UUID] = field(default_factory=list)
    """Rows this answer describes (erasing one nulls the stored body)."""

    @classmethod
    def of(
        cls,
        status_code: int,
        body: Any,
        *,
        location: str | None = None,
        resource_ids: list[uuid.UUID] | None = None,
    ) -> Outcome:
        """A JSON answer: ``body`` (a response struct) encoded once, here."""
        return cls(
            status_code,
            _encode(body),
            headers={"Location": location} if location else {},
            resource_ids=resource_ids or [],
        )

    def response(self) -> Response[bytes]:
        return Response(
            content=self.body,
            status_code=self.status_code,
            headers=self.headers,
            media_type=self.media_type,
        )


@dataclass(frozen=True, slots=True)
class Stored:
    request_hash: str
    status_code: int
    headers: dict[str, str]
    body: bytes | None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What "the same request" means: method, path and the exact body bytes."""
    digest = hashlib.sha256()
    digest.update(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


async def upload_content(fields: Mapping[str, Any], files: Mapping[str, UploadFile]) -> bytes:
    """What identifies a multipart request, for :func:`idempotent`'s ``content``.

    A streamed upload cannot be read again as raw bytes once parsed, so "the same
    request" is the same fields and, for each file, the same name and the SHA-256 of
    its bytes. Each file is read in chunks and rewound for the handler.
    """
    digests: dict[str, dict[str, str | None]] = {}
    for name, upload in files.items():
        digest = hashlib.sha256()
        while chunk := await upload.read(_UPLOAD_CHUNK):
            digest.update(chunk)
        await upload.seek(0)
        digests[name] = {"filename": upload.filename, "sha256": digest.hexdigest()}
    return _encode_sorted({"fields": dict(fields), "files": digests})


def key_of(request: Request[Any, Any, Any]) -> str | None:
    """The request's key, or ``None``; 422 for a malformed one."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise ValidationFailed(
            [FieldError(HEADER, "invalid", "must be 1-255 visible ASCII characters")]
        )
    return key


def _lock_name(schema: str, tenant_id: uuid.UUID, key: str) -> str:
    return f"idempotency:{schema}:{tenant_id}:{key}"


async def _try_lock(session: AsyncSession, name: str) -> bool:
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
    )
    return bool(locked)


async def lock_key(session: AsyncSession, schema: str, tenant_id: uuid.UUID, key: str) -> bool:
    """Take the key's in-progress lock in ``session``'s transaction (what a running
    request holds); ``False`` if another transaction holds it."""
    return await _try_lock(session, _lock_name(schema, tenant_id, key))


async def begin(
    session: AsyncSession, schema: str, tenant_id: uuid.UUID, key: str, request_hash: str
) -> Stored | None:
    """Claim ``key`` for this transaction; the stored answer when there is one.

    Raises :class:`IdempotencyInProgress` when another request holds the key and
    :class:`IdempotencyMismatch` when the key was used for another request.
    """
    if not await lock_key(session, schema, tenant_id, key):
        raise IdempotencyInProgress("the first request with this key has not finished; retry")
    row = (
        await session.execute(
            text(
                f"SELECT request_hash, status_code, headers, body FROM {schema}.idempotency_keys"  # noqa: S608
                " WHERE tenant_id = :tenant_id AND key = :key AND expires_at > now()"
            ),
            {"tenant_id": tenant_id, "key": key},
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyMismatch("this key was first used with a different request; use a new key")
    return Stored(row.request_hash, row.status_code, dict(row.headers), row.body)


async def save(
    session: AsyncSession,
    schema: str,
    tenant_id: uuid.UUID,
    key: str,
    request_hash: str,
    outcome: Outcome,
) -> None:
    """Store the answer in the caller's transaction (replacing an expired record)."""
    headers = {k: v for k, v in outcome.headers.items() if k.lower() in _KEPT_HEADERS}
    headers["content-type"] = outcome.media_type
    await session.execute(
        text(
            f"INSERT INTO {schema}.idempotency_keys"  # noqa: S608
            " (tenant_id, key, request_hash, status_code, headers, body, resource_ids,"
            "  expires_at)"
            " VALUES (:tenant_id, :key, :hash, :status, CAST(:headers AS jsonb), :body,"
            "  CAST(:resources AS uuid[]), now() + make_interval(secs => :ttl))"
            " ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash,"
            "  status_code = excluded.status_code, headers = excluded.headers,"
            "  body = excluded.body, resource_ids = excluded.resource_ids,"
            "  created_at = now(), expires_at = excluded.expires_at"
        ),
        {
            "tenant_id": tenant_id,
            "key": key,
            "hash": request_hash,
            "status": outcome.status_code,
            "headers": msgspec.json.encode(headers).decode(),
            "body": outcome.body,
            "resources": outcome.resource_ids,
            "ttl": TTL.total_seconds(),
        },
    )


def replay(stored: Stored) -> Response[bytes]:
    """The first answer again, byte for byte, marked as a replay."""
    if stored.body is None:
        raise IdempotentResponseErased(
            "the first answer to this key described data that has since been erased"
        )
    headers = {k: v for k, v in stored.headers.items() if k != "content-type"}
    headers[REPLAYED_HEADER] = "true"
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        headers=headers,
        media_type=stored.headers.get("content-type", "application/json"),
    )


async def idempotent(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    *,
    schema: str,
    tenant_id: uuid.UUID | None,
    run: Callable[[], Awaitable[Outcome]],
    content: Callable[[], Awaitable[bytes]] | None = None,
) -> Response[bytes]:
    """Run ``run`` once per ``Idempotency-Key`` (or every time without the header).

    The request is its method, path and body bytes; ``content`` stands in for the body
    where it cannot be read again (a multipart upload: :func:`upload_content`), and is
    called only when a key was sent.
    """
    key = key_of(request)
    if key is None:
        return (await run()).response()
    scope = tenant_id or NO_TENANT
    body = await content() if content is not None else await request.body()
    request_hash = fingerprint(request.method, request.url.path, body)
    stored = await begin(session, schema, scope, key, request_hash)
    if stored is not None:
        return replay(stored)
    outcome = await run()
    await save(session, schema, scope, key, request_hash, outcome)
    return outcome.response()


async def erase_stored_bodies(
    session: AsyncSession, schema: str, tenant_id: uuid.UUID, resource_id: uuid.UUID
) -> int:
    """Null the stored bodies of answers that described ``resource_id`` (erasure)."""
    result = await session.execute(
        text(
            f"UPDATE {schema}.idempotency_keys SET body = NULL"  # noqa: S608
            " WHERE tenant_id = :tenant_id AND resource_ids @> ARRAY[CAST(:id AS uuid)]"
            " AND body IS NOT NULL"
        ),
        {"tenant_id": tenant_id, "id": resource_id},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_expired(session: AsyncSession, schema: str, *, limit: int = 10_000) -> int:
    """Delete up to ``limit`` expired records (the cleanup job calls it in a loop)."""
    result = await session.execute(
        text(
            f"DELETE FROM {schema}.idempotency_keys WHERE ctid = ANY(ARRAY("  # noqa: S608
            f" SELECT ctid FROM {schema}.idempotency_keys WHERE expires_at <= now()"
            " LIMIT :limit))"
        ),
        {"limit": limit},
    )
    return int(getattr(result, "rowcount", 0) or 0)


PURGE_EVERY = timedelta(minutes=10)
PURGE_BATCH = 10_000


def purge_job(schema: str, *, module: str) -> JobFunc:
    """Declare ``<schema>.purge_idempotency_keys``: expired records deleted in batches.

    Each service with a ``<schema>.idempotency_keys`` table calls this once from its
    ``jobs.py`` with ``module=__name__``: the scheduler picks the jobs of the modules it
    runs, so the job must be declared as that module's.
    """

    async def purge_idempotency_keys() -> object:
        deleted = 0
        while True:
            async with session_scope(STAFF) as session:
                batch = await purge_expired(session, schema, limit=PURGE_BATCH)
            deleted += batch
            if batch < PURGE_BATCH:
                return {"deleted": deleted}

    purge_idempotency_keys.__module__ = module
    purge_idempotency_keys.__doc__ = f"Delete {schema}'s idempotency records older than 24 hours."
    return periodic(f"{schema}.purge_idempotency_keys", every=PURGE_EVERY)(purge_idempotency_keys)
