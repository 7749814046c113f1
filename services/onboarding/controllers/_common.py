"""Helpers the onboarding controllers share: model → schema, 201 with Location."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Response
from litestar.openapi import ResponseSpec

from shared.context import CLIENT_ROLES, STAFF_ROLES, Role
from shared.http.problems import PROBLEM_MEDIA_TYPE, Problem

S = TypeVar("S", bound=msgspec.Struct)

MANAGERS = (Role.ADMIN, Role.ACCOUNT_MANAGER)
ANY_PERSON = tuple(sorted(STAFF_ROLES | CLIENT_ROLES))


def out(schema: type[S], obj: Any) -> S:
    """A response struct from an ORM row."""
    return msgspec.convert(obj, schema, from_attributes=True)


def created(body: S, location: str) -> Response[S]:
    return Response(body, status_code=201, headers={"Location": location})


def problems(**by_status: str) -> dict[int, ResponseSpec]:
    """Extra documented problem answers: ``problems(s409="inn_taken, slug_taken")``."""
    return {
        int(status[1:]): ResponseSpec(
            data_container=Problem,
            description=f"Problem details: {codes}",
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status, codes in by_status.items()
    }
