"""The raw limits: a bare Litestar app doing one asyncpg INSERT per request
(``POST /raw``) and one ``unnest`` INSERT of the posted rows (``POST /raw/batch``)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, post

_pool: asyncpg.Pool | None = None

DDL = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.raw_leads (
    tenant_id uuid NOT NULL, id uuid NOT NULL, project_id uuid NOT NULL, phone text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, project_id, phone));
"""
TENANT = uuid.UUID(int=1)


async def _start(app: Litestar) -> None:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=10, max_size=20)
    async with _pool.acquire() as conn:
        await conn.execute(DDL)


@post("/raw", status_code=201)
async def raw(request: Request[Any, Any, Any]) -> dict[str, str]:
    data = msgspec.json.decode(await request.body())
    assert _pool is not None
    lead_id = uuid.uuid4()
    await _pool.execute(
        "INSERT INTO bench.raw_leads (tenant_id, id, project_id, phone) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        TENANT,
        lead_id,
        uuid.UUID(data["project_id"]),
        data["phone"],
    )
    return {"id": str(lead_id)}


@post("/raw/batch", status_code=200)
async def raw_batch(request: Request[Any, Any, Any]) -> dict[str, int]:
    items = msgspec.json.decode(await request.body())["items"]
    assert _pool is not None
    rows = await _pool.fetch(
        "INSERT INTO bench.raw_leads (tenant_id, id, project_id, phone)"
        " SELECT $1, id, project_id, phone FROM unnest($2::uuid[], $3::uuid[], $4::text[])"
        " AS t(id, project_id, phone) ON CONFLICT DO NOTHING RETURNING id",
        TENANT,
        [uuid.uuid4() for _ in items],
        [uuid.UUID(i["project_id"]) for i in items],
        [i["phone"] for i in items],
    )
    return {"created": len(rows)}


app = Litestar([raw, raw_batch], on_startup=[_start])
