"""A test-only service app built by ``create_service_app`` and a bearer token for it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import msgspec
from litestar import Litestar, Request, get, post

from shared.auth.tokens import issue_access_token
from shared.config import Settings, get_settings
from shared.context import Ctx, Role
from shared.errors import RateLimited
from shared.http.app import create_service_app


class Item(msgspec.Struct):
    phone: str
    quantity: int = 1


class Order(msgspec.Struct):
    email: str
    items: list[Item]


class TeapotError(RateLimited):
    code = "teapot_busy"
    title = "The teapot is busy"


@post("/v1/orders")
async def create_order(data: Order, ctx: Ctx) -> dict[str, Any]:
    return {"items": len(data.items), "principal_id": str(ctx.principal_id)}


@post("/v1/orders/explode")
async def explode(data: Order) -> dict[str, Any]:
    raise RuntimeError("database exploded")


@post("/v1/uploads", request_max_body_size=10_000)
async def upload(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@get("/v1/widgets/{widget_id:uuid}")
async def get_widget(widget_id: uuid.UUID, ctx: Ctx) -> dict[str, str]:
    return {"id": str(widget_id), "role": str(ctx.role), "kind": ctx.kind.value}


@get("/v1/busy")
async def busy() -> None:
    raise TeapotError("come back later", headers={"Retry-After": "7"}, extra={"retry_after": 7})


@get("/v1/public-ping", exclude_from_auth=True)
async def public_ping() -> dict[str, bool]:
    return {"pong": True}


HANDLERS = [create_order, explode, upload, get_widget, busy, public_ping]


def make_app(settings: Settings | None = None, **overrides: Any) -> Litestar:
    settings = settings or get_settings()
    if overrides:
        settings = replace(settings, **overrides)
    return create_service_app("test", HANDLERS, settings=settings)


def bearer(role: Role = Role.ADMIN, tenant_id: uuid.UUID | None = None) -> dict[str, str]:
    token, _ = issue_access_token(user_id=uuid.uuid4(), role=role, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {token}"}
