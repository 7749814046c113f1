"""HTTP helpers every onboarding concept's controllers share: model → schema, documented
problems, role groups, and the creating POSTs (201 with Location, ``Idempotency-Key``).

The generic ones (``out``, ``creating``, ``create_once``, ``IdempotencyKey``) are on their
way to :mod:`shared.http`, where every service can use them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import CLIENT_ROLES, STAFF_ROLES, Ctx, Role
from shared.http.idempotency import HEADER, REPLAYED_HEADER, Outcome, idempotent
from shared.http.openapi import problems

S = TypeVar("S", bound=msgspec.Struct)

SCHEMA = "onboarding"
MANAGERS = (Role.ADMIN, Role.ACCOUNT_MANAGER)
ANY_PERSON = tuple(sorted(STAFF_ROLES | CLIENT_ROLES))

IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header=HEADER,
        required=False,
        description=(
            "Makes a retry safe for 24 hours: the same key and body replay the first answer"
            f" with `{REPLAYED_HEADER}: true`; another body is 422 `idempotency_mismatch`;"
            " while the first request runs, 409 `idempotency_in_progress`."
        ),
    ),
]
CREATED_HEADERS = [
    ResponseHeader(
        name="Location", documentation_only=True, description="The new object's URL (201)"
    ),
    ResponseHeader(
        name=REPLAYED_HEADER,
        documentation_only=True,
        description="`true` when this is the stored answer to an earlier request with this key",
    ),
]

_encode = msgspec.json.Encoder().encode


def out(schema: type[S], obj: Any) -> S:
    """A response struct from an ORM row."""
    return msgspec.convert(obj, schema, from_attributes=True)


def creating(body: type[msgspec.Struct], *, s409: str | None = None) -> dict[int, ResponseSpec]:
    """The documented answers of a creating POST: 201 ``body``, and the problems of its
    idempotency key besides ``s409`` (the route's own conflicts)."""
    conflicts = "idempotency_in_progress" + (f", {s409}" if s409 else "")
    return {
        201: ResponseSpec(body, description="Created (or the replayed first answer)"),
        **problems(s409=conflicts, s422="validation (per-field errors), idempotency_mismatch"),
    }


async def create_once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: Ctx,
    make: Callable[[], Awaitable[tuple[msgspec.Struct, str, uuid.UUID]]],
) -> Response[Any]:
    """201 with what ``make`` returns (body, Location, id), once per ``Idempotency-Key``.

    Keys are scoped to the caller's tenant (staff share the no-tenant scope), and the
    stored answer is written in the same transaction as the object it describes.
    """

    async def run() -> Outcome:
        body, location, resource_id = await make()
        return Outcome(
            201, _encode(body), headers={"Location": location}, resource_ids=[resource_id]
        )

    return await idempotent(request, session, schema=SCHEMA, tenant_id=ctx.tenant_id, run=run)
