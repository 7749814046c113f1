"""Keyset pagination: opaque cursors, limits, and no gaps or repeats under inserts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar import get
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Uuid, select, text

from shared.db.session import STAFF, get_engine, session_scope
from shared.errors import ValidationFailed
from shared.http.app import create_service_app
from shared.http.pagination import PageParams, decode_cursor, encode_cursor, paginate
from shared.ids import new_id
from tests.http.helpers import bearer
from tests.support.clients import ApiClient

metadata = MetaData()
probe = Table(
    "pagination_probe",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("n", Integer, nullable=False),
    schema="public",
)


@pytest.fixture
async def probe_table():
    owner = get_engine(owner=True)
    async with owner.begin() as conn:
        await conn.execute(text("drop table if exists public.pagination_probe"))
        await conn.run_sync(metadata.create_all)
    yield owner
    async with owner.begin() as conn:
        await conn.execute(text("drop table public.pagination_probe"))


async def _insert(engine, rows: list[dict]) -> None:
    async with session_scope(STAFF, engine=engine) as session:
        await session.execute(probe.insert(), rows)


class TestCursor:
    def test_round_trip(self) -> None:
        at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
        row_id = uuid.uuid4()
        assert decode_cursor(encode_cursor((at, row_id))) == (
            "2026-12-01T09:30:00Z",
            str(row_id),
        )

    @pytest.mark.parametrize("garbage", ["!!!", "bm90IGpzb24", "e30", "W10"])
    def test_garbled_cursor_names_cursor(self, garbage: str) -> None:
        with pytest.raises(ValidationFailed) as info:
            decode_cursor(garbage)
        assert info.value.errors[0].field == "cursor"

    @pytest.mark.parametrize("limit", [0, 501, -3])
    def test_limit_out_of_range_names_limit(self, limit: int) -> None:
        with pytest.raises(ValidationFailed) as info:
            PageParams(limit=limit)
        assert info.value.errors[0].field == "limit"


class TestPaginate:
    async def test_walk_without_gaps_or_repeats_under_concurrent_inserts(self, probe_table) -> None:
        engine = probe_table
        base = datetime.now(UTC) - timedelta(hours=1)
        # Several rows share a timestamp, so the id must break ties.
        initial = [
            {"id": new_id(), "created_at": base + timedelta(seconds=i // 3), "n": i}
            for i in range(157)
        ]
        await _insert(engine, initial)
        stop = asyncio.Event()

        async def writer() -> int:
            written = 0
            while not stop.is_set():
                await _insert(
                    engine,
                    [{"id": new_id(), "created_at": datetime.now(UTC), "n": -1} for _ in range(5)],
                )
                written += 5
                await asyncio.sleep(0)
            return written

        task = asyncio.create_task(writer())
        seen: list[uuid.UUID] = []
        cursor = None
        pages = 0
        try:
            while True:
                async with session_scope(STAFF, engine=engine) as session:
                    # restrict to rows that existed when the walk began
                    stmt = select(probe).where(probe.c.n >= 0)
                    rows, cursor = await paginate(
                        session,
                        stmt,
                        order_by=(probe.c.created_at, probe.c.id),
                        params=PageParams(cursor=cursor, limit=10),
                    )
                seen.extend(r.id for r in rows)
                pages += 1
                await asyncio.sleep(0.005)
                if cursor is None:
                    break
        finally:
            stop.set()
            written = await task
        assert written > 0
        assert len(seen) == len(set(seen)) == 157
        assert set(seen) == {r["id"] for r in initial}
        assert pages == 16
        expected = sorted(initial, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        assert seen == [r["id"] for r in expected]

    async def test_new_rows_never_shift_an_ascending_walk(self, probe_table) -> None:
        engine = probe_table
        base = datetime.now(UTC) - timedelta(hours=1)
        await _insert(
            engine,
            [
                {"id": new_id(), "created_at": base + timedelta(seconds=i), "n": i}
                for i in range(30)
            ],
        )
        seen: list[int] = []
        cursor = None
        while True:
            async with session_scope(STAFF, engine=engine) as session:
                rows, cursor = await paginate(
                    session,
                    select(probe),
                    order_by=(probe.c.created_at, probe.c.id),
                    params=PageParams(cursor=cursor, limit=7),
                    descending=False,
                )
            seen.extend(r.n for r in rows)
            # rows appended at the end while walking are seen once, at the end
            if len(seen) == 7:
                await _insert(
                    engine, [{"id": new_id(), "created_at": datetime.now(UTC), "n": 1000}]
                )
            if cursor is None:
                break
        assert seen == [*range(30), 1000]


@get("/v1/probes")
async def list_probes(page_params: PageParams) -> dict:
    return {"limit": page_params.limit, "cursor": page_params.cursor}


class TestPageParamsOverHTTP:
    async def test_limit_defaults_and_bounds(self, api_client: ApiClient) -> None:
        app = create_service_app("test", [list_probes])
        async with api_client(app) as client:
            default = await client.get("/v1/probes", headers=bearer())
            too_big = await client.get("/v1/probes?limit=501", headers=bearer())
            zero = await client.get("/v1/probes?limit=0", headers=bearer())
            ok = await client.get("/v1/probes?limit=500&cursor=abc", headers=bearer())
        assert default.json() == {"limit": 50, "cursor": None}
        assert ok.json() == {"limit": 500, "cursor": "abc"}
        for r in (too_big, zero):
            assert r.status_code == 422
            assert r.json()["errors"][0]["field"] == "limit"
            assert r.json()["errors"][0]["code"] == "out_of_range"
