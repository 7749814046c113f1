"""Row-level security: a query bug cannot show or change another tenant's rows.

These tests write SQL by hand, as a buggy repository would: no tenant filter at all.
Only the transaction's scope (``app.tenant_id`` / ``app.scope``) and the policies
on the tables stand between tenant A and tenant B.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db.session import (
    STAFF,
    TenantScope,
    apply_scope,
    get_engine,
    make_session,
    session_scope,
)
from tests.support.factories import make_api_key, make_tenant

KEYS = "onboarding.api_keys"


@pytest.fixture(scope="module")
async def two_tenants() -> tuple[uuid.UUID, uuid.UUID]:
    a = await make_tenant()
    b = await make_tenant()
    for tenant in (a, b):
        await make_api_key(tenant)
    return a.id, b.id


async def _tenant_ids(scope: object) -> set[uuid.UUID]:
    async with session_scope(scope) as session:  # type: ignore[arg-type]
        rows = await session.execute(text(f"select tenant_id from {KEYS}"))
        return {row[0] for row in rows}


class TestNoScope:
    async def test_app_role_with_nothing_set_sees_no_tenant_rows(self, two_tenants) -> None:
        assert await _tenant_ids(None) == set()

    async def test_tables_are_not_owned_by_the_app_role(self) -> None:
        async with session_scope(STAFF) as session:
            owned = await session.scalar(
                text(
                    "select count(*) from pg_tables where tableowner = current_user"
                    " and schemaname in ('onboarding','pricing','intake','assignment','billing')"
                )
            )
        assert owned == 0


class TestTenantScope:
    async def test_reads_only_its_own_rows(self, two_tenants) -> None:
        a, b = two_tenants
        assert await _tenant_ids(TenantScope(a)) == {a}
        assert b in await _tenant_ids(STAFF)

    async def test_cannot_update_or_delete_another_tenants_rows(self, two_tenants) -> None:
        a, b = two_tenants
        async with session_scope(TenantScope(a)) as session:
            updated = await session.execute(
                text(f"update {KEYS} set name = 'hijacked' where tenant_id = :b"), {"b": b}
            )
            deleted = await session.execute(
                text(f"delete from {KEYS} where tenant_id = :b"), {"b": b}
            )
        assert updated.rowcount == 0
        assert deleted.rowcount == 0
        async with session_scope(STAFF) as session:
            names = await session.scalars(
                text(f"select name from {KEYS} where tenant_id = :b"), {"b": b}
            )
            assert "hijacked" not in list(names)
            assert await session.scalar(
                text(f"select count(*) from {KEYS} where tenant_id = :b"), {"b": b}
            )

    async def test_cannot_insert_a_row_for_another_tenant(self, two_tenants) -> None:
        a, b = two_tenants
        with pytest.raises(DBAPIError, match="row-level security"):
            async with session_scope(TenantScope(a)) as session:
                await session.execute(
                    text(
                        f"insert into {KEYS} (tenant_id, id, name, prefix, key_hash, scopes)"
                        " values (:b, :id, 'forged', 'kk_live_xxxx', :hash, '{}')"
                    ),
                    {"b": b, "id": uuid.uuid4(), "hash": uuid.uuid4().hex},
                )

    async def test_cannot_move_its_row_to_another_tenant(self, two_tenants) -> None:
        a, b = two_tenants
        with pytest.raises(DBAPIError, match="row-level security"):
            async with session_scope(TenantScope(a)) as session:
                await session.execute(text(f"update {KEYS} set tenant_id = :b"), {"b": b})

    async def test_every_transaction_of_a_session_is_scoped(self, two_tenants) -> None:
        a, _ = two_tenants
        async with session_scope(TenantScope(a)) as session:
            assert await session.scalar(
                text("select current_setting('app.tenant_id', true)")
            ) == str(a)
            await session.commit()
            # A new transaction on the same session is scoped again by the session hook.
            assert await session.scalar(
                text("select current_setting('app.tenant_id', true)")
            ) == str(a)


class TestPooledConnections:
    async def test_a_connection_never_carries_a_tenant_into_the_next_transaction(
        self, two_tenants
    ) -> None:
        a, _ = two_tenants
        engine = get_engine()
        # One pooled connection, used first under tenant A, then with no scope.
        async with engine.connect() as conn:
            backend = await conn.scalar(text("select pg_backend_pid()"))
            await conn.commit()
            async with conn.begin():
                await conn.run_sync(lambda sync: apply_scope(sync, TenantScope(a)))
                assert await conn.scalar(text(f"select count(*) from {KEYS}"))
            leftover = await conn.scalar(text("select current_setting('app.tenant_id', true)"))
            assert leftover in ("", None)
            assert await conn.scalar(text(f"select count(*) from {KEYS}")) == 0
            assert await conn.scalar(text("select pg_backend_pid()")) == backend
            await conn.rollback()

    async def test_concurrent_sessions_of_two_tenants_never_see_each_other(
        self, two_tenants
    ) -> None:
        a, b = two_tenants

        async def look(tenant: uuid.UUID) -> set[uuid.UUID]:
            seen: set[uuid.UUID] = set()
            for _ in range(20):
                seen |= await _tenant_ids(TenantScope(tenant))
            return seen

        seen_a, seen_b = await asyncio.gather(look(a), look(b))
        assert seen_a == {a}
        assert seen_b == {b}

    async def test_a_session_without_scope_info_sets_nothing(self) -> None:
        session = make_session(None)
        try:
            assert await session.scalar(text("select current_setting('app.scope', true)")) in (
                "",
                None,
            )
        finally:
            await session.close()
