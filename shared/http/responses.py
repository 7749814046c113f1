"""Row → response, and the creating POST of API.md: 201 with the object and its
``Location``, once per ``Idempotency-Key``.

A handler of a creating POST::

    @post("/", operation_id="CreateUser", response_headers=created_headers(),
          responses=creating(s409="email_taken"))
    async def create_user(self, request: Request[Any, Any, Any], ctx: Ctx,
                          session: AsyncSession, data: UserCreate,
                          idempotency_key: IdempotencyKey = None) -> Response[User]:
        async def make() -> tuple[User, str, uuid.UUID]:
            user = await users.create(session, ctx, data)
            return out(User, user), f"/v1/users/{user.id}", user.id

        return await create_once(request, session, ctx, make, schema="onboarding")

A route that may also answer 200 (an existing object) or 202 builds its
:class:`~shared.http.idempotency.Outcome` itself and calls
:func:`~shared.http.idempotency.idempotent`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Ctx
from shared.http.idempotency import REPLAYED, Outcome, idempotency_problems, idempotent
from shared.http.openapi import documented_header, problems

S = TypeVar("S", bound=msgspec.Struct)

Made = tuple[msgspec.Struct, str, uuid.UUID]
"""What a creating handler's ``make`` answers: the body, its ``Location``, its id."""


def out(schema: type[S], obj: Any) -> S:
    """A response struct from an ORM row (its attributes, by the struct's field names)."""
    return msgspec.convert(obj, schema, from_attributes=True)


def created_headers(
    location: str = "The new object's URL", *, replayable: bool = True
) -> list[ResponseHeader]:
    """The documented headers of a creating POST: ``Location`` and (unless the route
    refuses ``Idempotency-Key``) the replay marker."""
    headers = [documented_header("Location", location)]
    return [*headers, REPLAYED] if replayable else headers


def creating(*, erased: str | None = None, **by_status: str) -> dict[int, ResponseSpec]:
    """The documented problems of a creating POST: the key's, and the route's own
    (``s404="project_not_found"``; ``s409`` and ``s422`` are merged with the key's 409
    and 422). The 201 itself is the handler's (its return type, ``Location`` and
    :data:`~shared.http.idempotency.REPLAYED` from :func:`created_headers`): a 201
    given here would replace it, headers and all."""
    s409 = by_status.pop("s409", None)
    s422 = by_status.pop("s422", None)
    return {
        **problems(**by_status),
        **idempotency_problems(s409=s409, s422=s422, erased=erased),
    }


async def create_once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: Ctx,
    make: Callable[[], Awaitable[Made]],
    *,
    schema: str,
) -> Response[Any]:
    """201 with what ``make`` returns (body, Location, id), once per ``Idempotency-Key``.

    Keys live in ``<schema>.idempotency_keys``, scoped to the caller's tenant (staff
    share the no-tenant scope); the stored answer is written in the same transaction
    as the object it describes.
    """

    async def run() -> Outcome:
        body, location, resource_id = await make()
        return Outcome.of(201, body, location=location, resource_ids=[resource_id])

    return await idempotent(request, session, schema=schema, tenant_id=ctx.tenant_id, run=run)
