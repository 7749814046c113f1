"""``all_of``: several checks as one guard, in order, the first refusal winning."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from shared.auth.guards import all_of, require_roles, require_scope
from shared.context import Ctx, PrincipalKind, Role
from shared.errors import Forbidden


def _connection(ctx: Ctx) -> Any:
    class Connection:
        scope: dict[str, Any] = {"user": ctx}

    return Connection()


def _key(*scopes: str) -> Ctx:
    return Ctx(
        principal_id=uuid.uuid4(),
        kind=PrincipalKind.API_KEY,
        role=None,
        tenant_id=uuid.uuid4(),
        scopes=frozenset(scopes),
    )


async def test_all_of_runs_every_check_in_order_and_stops_at_the_first_refusal() -> None:
    seen: list[str] = []

    def recorder(name: str, refuse: bool = False) -> Any:
        async def guard(_: ASGIConnection, __: BaseRouteHandler) -> None:
            seen.append(name)
            if refuse:
                raise Forbidden(name)

        return guard

    handler: Any = None
    await all_of(recorder("a"), recorder("b"))(_connection(_key()), handler)
    assert seen == ["a", "b"]

    seen.clear()
    with pytest.raises(Forbidden, match="b"):
        await all_of(recorder("a"), recorder("b", refuse=True), recorder("c"))(
            _connection(_key()), handler
        )
    assert seen == ["a", "b"]


async def test_all_of_keeps_the_role_and_scope_rules() -> None:
    guard = all_of(require_roles(Role.CLIENT_ADMIN, allow_api_keys=True), require_scope("x:w"))
    handler: Any = None
    await guard(_connection(_key("x:w")), handler)
    with pytest.raises(Forbidden, match="scope"):
        await guard(_connection(_key("x:r")), handler)
