"""Monthly partitions of the append-only tables and their retention (shared/db/partitions.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import partitions
from shared.db.partitions import BY_TABLE, PARTITIONED, create_month, maintain
from shared.db.session import STAFF, get_engine, session_scope
from shared.ids import PLATFORM_TENANT

AUDIT = BY_TABLE["platform.audit_log"]
JOB_RUNS = BY_TABLE["platform.job_runs"]
OUTBOX = BY_TABLE["intake.outbox"]
INBOX = BY_TABLE["assignment.inbox"]


def at(year: int, month: int, day: int = 15) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
async def owner() -> AsyncIterator[AsyncConnection]:
    async with get_engine(owner=True).connect() as conn:
        yield conn


async def rows(conn: AsyncConnection, sql: str, **params: Any) -> list[Any]:
    result = list((await conn.execute(text(sql), params)).all())
    await conn.commit()
    return result


async def months(conn: AsyncConnection, spec: partitions.Partitioned) -> list[date]:
    found = await partitions.existing_months(conn, spec)
    await conn.commit()
    return found


async def audit_row(conn: AsyncConnection, moment: datetime) -> uuid.UUID:
    row_id = uuid.uuid4()
    await rows(
        conn,
        "INSERT INTO platform.audit_log (tenant_id, id, actor, actor_kind, action, entity,"
        " entity_id, at) VALUES (:t, :i, 'system', 'system', 'test.partition', 'test', :i, :at)"
        " RETURNING id",
        t=PLATFORM_TENANT,
        i=row_id,
        at=moment,
    )
    return row_id


async def partition_of(conn: AsyncConnection, row_id: uuid.UUID) -> str:
    found = await rows(
        conn, "SELECT tableoid::regclass::text FROM platform.audit_log WHERE id = :i", i=row_id
    )
    return str(found[0][0])


async def outbox_row(conn: AsyncConnection, moment: datetime, *, published: bool) -> None:
    await rows(
        conn,
        "INSERT INTO intake.outbox (tenant_id, id, event_type, version, occurred_at, payload,"
        " created_at, published_at) VALUES (:t, :i, 'lead.received', 1, :at, '{}', :at,"
        " CASE WHEN :published THEN CAST(:at AS timestamptz) END) RETURNING id",
        t=uuid.uuid4(),
        i=uuid.uuid4(),
        at=moment,
        published=published,
    )


class TestLayout:
    async def test_every_listed_table_is_partitioned_by_month_on_its_time_column(
        self, owner: AsyncConnection
    ) -> None:
        found = dict(
            await rows(
                owner,
                "SELECT p.partrelid::regclass::text, a.attname FROM pg_partitioned_table p"
                " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
                " WHERE p.partstrat = 'r'",
            )
        )
        assert {spec.table: spec.column for spec in PARTITIONED}.items() <= found.items()
        for name in ("intake.lead_history", "assignment.attempts", "billing.usage"):
            assert name in BY_TABLE
        assert len({s.table for s in PARTITIONED}) == 7 + 2 * 5

    async def test_baseline_created_the_default_this_month_and_the_next(
        self, owner: AsyncConnection
    ) -> None:
        this = partitions.month_start(datetime.now(UTC))
        for spec in PARTITIONED:
            have = await months(owner, spec)
            assert {this, partitions.add_months(this, 1)} <= set(have), spec.table
        defaults = await rows(
            owner,
            "SELECT count(*) FROM pg_class c JOIN pg_partitioned_table p ON p.partdefid = c.oid",
        )
        assert defaults[0][0] >= len(PARTITIONED)

    async def test_every_key_holds_the_partition_key_and_starts_with_the_tenant(
        self, owner: AsyncConnection
    ) -> None:
        keys = await rows(
            owner,
            "SELECT i.indrelid::regclass::text, array_agg(a.attname ORDER BY k.n)"
            " FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " JOIN pg_class c ON c.oid = i.indrelid AND c.relkind = 'p'"
            " WHERE i.indisunique GROUP BY i.indexrelid, i.indrelid",
        )
        seen = set()
        for table, columns in keys:
            spec = BY_TABLE[table]
            assert spec.column in columns, (table, columns)
            if table.endswith((".outbox", ".inbox")) or table == "platform.audit_log":
                assert columns[0] == "tenant_id", (table, columns)
            seen.add(table)
        assert seen == set(BY_TABLE)

    async def test_the_app_role_cannot_read_a_partition_past_its_parent(self) -> None:
        this = partitions.month_start(datetime.now(UTC))
        with pytest.raises(ProgrammingError, match="permission denied"):
            async with session_scope(STAFF) as session:
                await session.execute(
                    text(f"SELECT 1 FROM platform.{AUDIT.partition(this)} LIMIT 1")
                )


class TestPlacement:
    async def test_rows_of_several_months_land_in_their_months(
        self, owner: AsyncConnection
    ) -> None:
        for month in (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)):
            if month not in await months(owner, AUDIT):
                await create_month(owner, AUDIT, month)
        placed = {
            month: await partition_of(owner, await audit_row(owner, at(2025, month)))
            for month in (1, 2, 3)
        }
        assert placed == {
            1: "platform.audit_log_p2025_01",
            2: "platform.audit_log_p2025_02",
            3: "platform.audit_log_p2025_03",
        }

    async def test_a_row_without_its_month_waits_in_the_default_and_moves_in(
        self, owner: AsyncConnection
    ) -> None:
        row_id = await audit_row(owner, at(2033, 4))
        assert await partition_of(owner, row_id) == "platform.audit_log_default"
        report = await maintain(owner, at(2033, 4, 10), [AUDIT])
        assert report.created == [
            "platform.audit_log_p2033_04",
            "platform.audit_log_p2033_05",
            "platform.audit_log_p2033_06",
        ]
        assert report.moved_rows == 1
        assert await partition_of(owner, row_id) == "platform.audit_log_p2033_04"


class TestJob:
    async def test_creates_the_next_months_and_a_second_run_does_nothing(
        self, owner: AsyncConnection
    ) -> None:
        now = at(2031, 5, 20)
        first = await maintain(owner, now, [AUDIT, JOB_RUNS])
        assert first.created == [
            "platform.audit_log_p2031_05",
            "platform.audit_log_p2031_06",
            "platform.audit_log_p2031_07",
            "platform.job_runs_p2031_05",
            "platform.job_runs_p2031_06",
            "platform.job_runs_p2031_07",
        ]
        # job runs of the real current months ended long before 2031: dropped; audit kept
        assert all(name.startswith("platform.job_runs_") for name in first.dropped)
        again = await maintain(owner, now, [AUDIT, JOB_RUNS])
        assert (again.created, again.dropped, again.held, again.busy) == ([], [], [], [])
        # Back to today: the real months come back for the tests that follow.
        await maintain(owner, datetime.now(UTC), [JOB_RUNS])

    async def test_drops_exactly_the_months_past_retention(self, owner: AsyncConnection) -> None:
        for month in (date(2026, 10, 1), date(2026, 11, 1)):
            if month not in await months(owner, INBOX):
                await create_month(owner, INBOX, month)
        # 14-day redelivery window: on Dec 10 November ended 9 days ago, October 40.
        report = await maintain(owner, at(2026, 12, 10), [INBOX])
        assert report.dropped == ["assignment.inbox_p2026_10"]
        assert date(2026, 11, 1) in await months(owner, INBOX)
        report = await maintain(owner, at(2026, 12, 16), [INBOX])
        assert report.dropped == ["assignment.inbox_p2026_11"]
        assert 0 < report.locked_ms < 2000  # the parent was locked for the detach only
        assert await rows(owner, "SELECT to_regclass('assignment.inbox_p2026_11')") == [(None,)]

    async def test_a_late_row_of_a_dropped_month_waits_in_the_default_and_is_counted(
        self, owner: AsyncConnection
    ) -> None:
        if date(2026, 9, 1) not in await months(owner, INBOX):
            await create_month(owner, INBOX, date(2026, 9, 1))
        assert (await maintain(owner, at(2026, 12, 10), [INBOX])).dropped[:1] == [
            "assignment.inbox_p2026_09"
        ]
        late = uuid.uuid4()
        await rows(
            owner,
            "INSERT INTO assignment.inbox (tenant_id, event_id, occurred_at, event_type)"
            " VALUES (:t, :e, :at, 'lead.received') RETURNING event_id",
            t=PLATFORM_TENANT,
            e=late,
            at=at(2026, 9),
        )
        report = await maintain(owner, at(2026, 12, 10), [INBOX])
        assert report.in_default["assignment.inbox"] >= 1
        assert await rows(
            owner,
            "SELECT tableoid::regclass::text FROM assignment.inbox WHERE event_id = :e",
            e=late,
        ) == [("assignment.inbox_default",)]

    async def test_a_month_detached_by_a_run_that_stopped_is_dropped_by_the_next(
        self, owner: AsyncConnection
    ) -> None:
        await create_month(owner, JOB_RUNS, date(2025, 4, 1))
        async with owner.begin():  # a run detached it, then stopped before the drop
            await owner.execute(
                text("ALTER TABLE platform.job_runs DETACH PARTITION platform.job_runs_p2025_04")
            )
        report = await maintain(owner, datetime.now(UTC), [JOB_RUNS])
        assert report.dropped == ["platform.job_runs_p2025_04"]
        assert await rows(owner, "SELECT to_regclass('platform.job_runs_p2025_04')") == [(None,)]

    async def test_keeps_an_outbox_month_until_every_row_is_published(
        self, owner: AsyncConnection
    ) -> None:
        for month in (date(2025, 6, 1), date(2025, 7, 1)):
            await create_month(owner, OUTBOX, month)
        await outbox_row(owner, at(2025, 6), published=False)
        await outbox_row(owner, at(2025, 7), published=True)
        now = datetime.now(UTC)
        report = await maintain(owner, now, [OUTBOX])
        assert report.dropped == ["intake.outbox_p2025_07"]
        assert report.held == ["intake.outbox_p2025_06"]
        await rows(
            owner,
            "UPDATE intake.outbox SET published_at = now() WHERE created_at < '2025-07-01'"
            " RETURNING id",
        )
        report = await maintain(owner, now, [OUTBOX])
        assert (report.dropped, report.held) == (["intake.outbox_p2025_06"], [])
        again = await maintain(owner, now, [OUTBOX])
        assert (again.created, again.dropped, again.held) == ([], [], [])

    async def test_kept_tables_are_never_dropped(self, owner: AsyncConnection) -> None:
        kept = [spec for spec in PARTITIONED if spec.retention is None]
        assert {spec.table for spec in kept} == {
            "intake.lead_history",
            "assignment.attempts",
            "assignment.operator_states",
            "billing.usage",
            "platform.audit_log",
        }
        if date(2025, 1, 1) not in await months(owner, AUDIT):
            await create_month(owner, AUDIT, date(2025, 1, 1))
        report = await maintain(owner, at(2040, 1, 1), kept)
        assert (report.dropped, report.held) == ([], [])
        assert date(2025, 1, 1) in await months(owner, AUDIT)

    async def test_the_scheduler_runs_it_on_the_owner_connection(self) -> None:
        from shared.scheduling.runner import run_job_now

        result = await run_job_now("db.partitions", modules=["shared.scheduling.jobs"])
        assert result.ok, result.error
        again = await run_job_now("db.partitions", modules=["shared.scheduling.jobs"])
        assert again.ok, again.error
        assert again.summary is not None
        assert '"created":[]' in again.summary
        assert '"dropped":[]' in again.summary
