"""How a transaction gets its scope: ``SET LOCAL`` of values our own code renders, in as
many round trips as the ``set_config`` select it replaced (BEGIN, then one query)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from shared.config import get_settings
from shared.db.outage import is_database_outage
from shared.db.session import STAFF, TenantScope, session_scope, set_local_scope


class TestTheStatement:
    def test_a_tenant_is_written_as_its_uuid(self) -> None:
        tenant = uuid.UUID("0190a3c2-0000-7000-8000-000000000001")
        assert set_local_scope(TenantScope(tenant)) == (
            "SET LOCAL app.tenant_id = '0190a3c2-0000-7000-8000-000000000001'; "
            "SET LOCAL app.scope = 'tenant'"
        )
        assert set_local_scope(tenant) == set_local_scope(TenantScope(tenant))

    def test_staff_and_no_scope_are_fixed_words(self) -> None:
        assert set_local_scope(STAFF) == (
            "SET LOCAL app.tenant_id = ''; SET LOCAL app.scope = 'staff'"
        )
        assert set_local_scope(None) == "SET LOCAL app.tenant_id = ''; SET LOCAL app.scope = ''"

    @pytest.mark.parametrize(
        "tenant",
        [
            "0190a3c2-0000-7000-8000-000000000001",
            "x'; SET LOCAL app.scope = 'staff",
            b"\x01" * 16,
            1,
        ],
    )
    def test_anything_but_a_uuid_is_refused(self, tenant: Any) -> None:
        with pytest.raises(TypeError):
            set_local_scope(TenantScope(tenant))

    def test_a_uuid_subclass_cannot_write_its_own_text(self) -> None:
        class Sneaky(uuid.UUID):
            def __str__(self) -> str:
                return "x'; SET LOCAL app.scope = 'staff"

        tenant = Sneaky("0190a3c2-0000-7000-8000-000000000001")
        assert "'0190a3c2-0000-7000-8000-000000000001'" in set_local_scope(tenant)
        assert "staff" not in set_local_scope(tenant)


@contextmanager
def _watched(session_conn: Any) -> Iterator[tuple[list[str], list[bytes]]]:
    """The simple queries the asyncpg connection sends, and every write to its socket
    (one per round trip: the client waits for each answer before it writes again)."""
    queries: list[str] = []
    writes: list[bytes] = []
    transport = session_conn._transport
    write = transport.write

    def counting(data: bytes) -> None:
        writes.append(bytes(data))
        write(data)

    def log(record: Any) -> None:
        queries.append(record.query)

    transport.write = counting
    session_conn.add_query_logger(log)
    try:
        yield queries, writes
    finally:
        session_conn.remove_query_logger(log)
        transport.write = write


async def _driver(session: AsyncSession) -> Any:
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


class TestOnTheWire:
    async def test_a_scoped_transaction_is_begin_set_local_statement_commit(self) -> None:
        tenant = uuid.uuid4()
        # One pooled connection, so that every transaction of the session runs on it.
        engine = create_async_engine(get_settings().sqlalchemy_app_url, pool_size=1)
        async with session_scope(TenantScope(tenant), engine=engine) as session:
            driver = await _driver(session)
            # A first transaction prepares ``select 1``: the watched one reuses it.
            await session.execute(text("select 1"))
            await session.commit()
            with _watched(driver) as (queries, writes):
                await session.execute(text("select 1"))
                await session.commit()
            assert await session.scalar(text("select current_setting('app.tenant_id')")) == str(
                tenant
            )
        await engine.dispose()
        assert queries == ["BEGIN;", set_local_scope(tenant), "COMMIT;"]
        # BEGIN, both SET LOCAL in one query, the statement, COMMIT: the round trips of
        # the ``set_config`` select this replaced.
        assert len(writes) == 4


async def _backend_pid(session: AsyncSession) -> int:
    return int(await session.scalar(text("select pg_backend_pid()")) or 0)


class TestAConnectionTheServerEnded:
    async def test_fails_one_transaction_then_the_pool_reconnects(self) -> None:
        """PostgreSQL restarted under a full pool: the first scoped transaction fails as
        an outage and drops every pooled connection; the next one connects afresh (a
        relay or worker must not fail on dead pooled connections forever)."""
        settings = get_settings()
        engine = create_async_engine(settings.sqlalchemy_app_url, pool_size=2, max_overflow=0)
        async with (
            session_scope(STAFF, engine=engine) as a,
            session_scope(STAFF, engine=engine) as b,
        ):
            pids = {await _backend_pid(a), await _backend_pid(b)}
        killer = await asyncpg.connect(settings.app_database_url)
        try:
            await killer.execute(
                "select pg_terminate_backend(pid) from unnest($1::int[]) pid", list(pids)
            )
            for _ in range(100):  # the backends exit shortly after the signal
                gone = await killer.fetchval(
                    "select count(*) = 0 from pg_stat_activity where pid = any($1::int[])",
                    list(pids),
                )
                if gone:
                    break
                await asyncio.sleep(0.05)
        finally:
            await killer.close()
        try:
            with pytest.raises(DBAPIError) as failed:
                async with session_scope(STAFF, engine=engine) as session:
                    await session.execute(text("select 1"))
            assert failed.value.connection_invalidated
            assert is_database_outage(failed.value)
            for _ in range(2):  # both pooled connections were dropped, not only the one tried
                async with session_scope(TenantScope(uuid.uuid4()), engine=engine) as session:
                    assert await _backend_pid(session) not in pids
        finally:
            await engine.dispose()
