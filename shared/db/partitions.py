"""Monthly range partitions of the append-only tables, and their retention.

The tables listed in :data:`PARTITIONED` are ``PARTITION BY RANGE (<time column>)``
with one partition per calendar month (UTC bounds) named ``<table>_pYYYY_MM``, plus a
DEFAULT partition ``<table>_default``. The baseline creates the current and the next
month; the scheduler's ``db.partitions`` job (:func:`maintain`, run by the leader)
keeps :data:`MONTHS_AHEAD` months ready and DETACHes and DROPs the months past a
table's retention — whole partitions, never ``DELETE`` row by row, so a month of
millions of rows goes in one catalogue change and leaves nothing to vacuum.

Why a DEFAULT partition: a row whose month has no partition must not fail the write
that carries it (an event applied late, after its month was dropped; a clock far
ahead). Such rows are rare and land in the DEFAULT; when the job creates a month
that already has rows in the DEFAULT, it moves them into the new partition first
(PostgreSQL refuses to attach over them). The price: ``DETACH … CONCURRENTLY`` is not
allowed while a DEFAULT exists, so a detach takes a short exclusive lock on the
parent (taken before the partition, as writers take them), bounded by
:data:`LOCK_TIMEOUT` (a busy parent is left to the next run). Rows that arrive for a
month already dropped stay in the DEFAULT (retention never deletes row by row); the
job reports how many wait there.

Partitions are reached only through their parent: the app role's privileges on each
partition are revoked (the schema's default privileges would grant them), so nobody
can read a partition directly past the parent's row-level security.

The job needs DDL, which the app role never has: it runs on the owner connection.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import APP_DB_ROLE
from shared.db.ddl import SERVICE_SCHEMAS

MONTHS_AHEAD = 2
"""Months after the current one kept ready, so a late job run never leaves a gap."""
LOCK_TIMEOUT = "2s"
"""How long a DETACH or ATTACH waits for the parent's lock before giving up this run."""

OUTBOX_RETENTION = timedelta(days=7)
"""Published events are kept a week for replay, then their month goes."""
INBOX_REDELIVERY_WINDOW = timedelta(days=14)
"""How long after an event occurred it may still be delivered again: the relay resends
within seconds of a crash, the broker's retries end within a day (``max_backoff``), a
dead letter is replayed within the week the operator on call looks at it. The inbox is
partitioned by the event's ``occurred_at``, so its dedupe holds for every redelivery
inside this window; a month goes when it ended longer ago than this."""
WEBHOOK_DELIVERY_RETENTION = timedelta(days=30)
"""Tenants can read a delivery log of the last month; retries end long before."""
JOB_RUN_RETENTION = timedelta(days=90)
"""A quarter of run history for operations."""


@dataclass(frozen=True, slots=True)
class Partitioned:
    """One partitioned table: its time column, how long a month is kept after it ended
    (``None``: forever), and a condition that holds a month back while any row matches."""

    table: str
    column: str
    retention: timedelta | None = None
    keep_while: str | None = None

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]

    def partition(self, month: date) -> str:
        """The partition's table name (unqualified) for the month starting ``month``."""
        return f"{self.name}_p{month.year:04d}_{month.month:02d}"

    @property
    def default(self) -> str:
        return f"{self.name}_default"

    @property
    def partition_by(self) -> str:
        """The ``PARTITION BY`` clause (models declare it as ``postgresql_partition_by``)."""
        return f"RANGE ({self.column})"


PARTITIONED: tuple[Partitioned, ...] = (
    Partitioned("intake.lead_history", "at"),
    Partitioned("assignment.attempts", "created_at"),
    Partitioned("assignment.operator_states", "started_at"),
    Partitioned("billing.usage", "recorded_at"),
    Partitioned("onboarding.webhook_deliveries", "event_occurred_at", WEBHOOK_DELIVERY_RETENTION),
    Partitioned("platform.audit_log", "at"),
    Partitioned("platform.job_runs", "started_at", JOB_RUN_RETENTION),
    *(
        Partitioned(f"{schema}.outbox", "created_at", OUTBOX_RETENTION, "published_at IS NULL")
        for schema in SERVICE_SCHEMAS
    ),
    *(
        Partitioned(f"{schema}.inbox", "occurred_at", INBOX_REDELIVERY_WINDOW)
        for schema in SERVICE_SCHEMAS
    ),
)
"""Every partitioned table, once. Audit, lead history, attempts, operator states and
usage are kept (billing and accountability); the rest go after their retention."""

BY_TABLE: dict[str, Partitioned] = {spec.table: spec for spec in PARTITIONED}


def partition_by(table: str) -> str:
    """``table``'s ``PARTITION BY`` clause, for its model's ``postgresql_partition_by``."""
    return BY_TABLE[table].partition_by


_PARTITION_NAME = re.compile(r"^(?P<table>\w+)_(?:p(?P<year>\d{4})_(?P<month>\d{2})|default)$")


def is_partition_name(schema: str | None, name: str) -> bool:
    """Whether ``schema.name`` is a partition of one of :data:`PARTITIONED` (not a model:
    alembic's comparison leaves these out)."""
    found = _PARTITION_NAME.match(name)
    return found is not None and f"{schema}.{found['table']}" in BY_TABLE


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def create_partition_sql(spec: Partitioned, month: date) -> list[str]:
    """The statements that create (and lock down) the partition of ``month``."""
    qualified = f"{spec.schema}.{spec.partition(month)}"
    return [
        f"CREATE TABLE {qualified} PARTITION OF {spec.table}"
        f" FOR VALUES FROM ({_bound(month)}) TO ({_bound(add_months(month, 1))})",
        f"REVOKE ALL ON {qualified} FROM {APP_DB_ROLE}",
    ]


def initial_sql(spec: Partitioned, today: date) -> list[str]:
    """What the baseline creates for ``spec``: the DEFAULT, this month and the next."""
    default = f"{spec.schema}.{spec.default}"
    statements = [
        f"CREATE TABLE {default} PARTITION OF {spec.table} DEFAULT",
        f"REVOKE ALL ON {default} FROM {APP_DB_ROLE}",
    ]
    for offset in (0, 1):
        statements += create_partition_sql(spec, add_months(month_start(today), offset))
    return statements


@dataclass(slots=True)
class Report:
    """What one :func:`maintain` run did, by qualified partition name."""

    created: list[str]
    moved_rows: int
    dropped: list[str]
    held: list[str]
    busy: list[str]
    locked_ms: float
    """The longest a parent stayed exclusively locked for a drop (check and detach)."""
    in_default: dict[str, int]
    """Rows waiting in a DEFAULT partition, by table (only tables that have some): late
    rows of months already dropped stay there, so the figure is watched, not cleared."""

    def summary(self) -> dict[str, object]:
        return {
            "created": self.created,
            "moved_rows": self.moved_rows,
            "dropped": self.dropped,
            "held": self.held,
            "busy": self.busy,
            "locked_ms": round(self.locked_ms, 1),
            "in_default": self.in_default,
        }


def _months_of(spec: Partitioned, names: Iterable[str]) -> list[date]:
    """The months named by ``names`` that are month partitions of ``spec``, oldest first."""
    months = []
    for name in names:
        found = _PARTITION_NAME.match(name)
        if found and found["year"] and found["table"] == spec.name:
            months.append(date(int(found["year"]), int(found["month"]), 1))
    return sorted(months)


async def existing_months(conn: AsyncConnection, spec: Partitioned) -> list[date]:
    """The months that have a partition of ``spec`` now, oldest first."""
    names = await conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": spec.table},
    )
    return _months_of(spec, names)


async def create_month(conn: AsyncConnection, spec: Partitioned, month: date) -> int:
    """Create ``month``'s partition in its own transaction; returns the rows moved into it
    from the DEFAULT (rows that arrived before their month had a partition)."""
    lo, hi = _bound(month), _bound(add_months(month, 1))
    default = f"{spec.schema}.{spec.default}"
    qualified = f"{spec.schema}.{spec.partition(month)}"
    where = f"{spec.column} >= {lo} AND {spec.column} < {hi}"
    async with conn.begin():
        await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        strays = await conn.scalar(text(f"SELECT count(*) FROM {default} WHERE {where}"))  # noqa: S608
        if not strays:
            for statement in create_partition_sql(spec, month):
                await conn.execute(text(statement))
            return 0
        # Attaching over rows the DEFAULT holds is refused: build the month beside the
        # parent, move those rows into it, then attach it.
        await conn.execute(text(f"CREATE TABLE {qualified} (LIKE {spec.table} INCLUDING DEFAULTS)"))
        await conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {default} WHERE {where} RETURNING *)"  # noqa: S608
                f" INSERT INTO {qualified} SELECT * FROM moved"
            )
        )
        await conn.execute(
            text(
                f"ALTER TABLE {spec.table} ATTACH PARTITION {qualified}"
                f" FOR VALUES FROM ({lo}) TO ({hi})"
            )
        )
        await conn.execute(text(f"REVOKE ALL ON {qualified} FROM {APP_DB_ROLE}"))
    return int(strays)


async def drop_month(conn: AsyncConnection, spec: Partitioned, month: date) -> float | None:
    """Detach and drop ``month``'s partition unless a row of it must be kept
    (``keep_while``): the seconds the parent was locked, ``None`` when held back.

    Two transactions: the detach holds the parent's lock for a catalogue change only;
    the drop (unlinking the month's files, most of the time) runs after it committed,
    with the parent's writers going on. A detached month left by a crash in between
    is dropped by the next run (:func:`detached_months`).
    """
    qualified = f"{spec.schema}.{spec.partition(month)}"
    async with conn.begin():
        await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        locked = time.perf_counter()
        # The lock DETACH takes anyway, taken first: parent before partition, the order
        # every writer takes them in (no deadlock), and no row can change after the check.
        await conn.execute(text(f"LOCK TABLE {spec.table} IN ACCESS EXCLUSIVE MODE"))
        if spec.keep_while is not None:
            held = await conn.scalar(
                text(f"SELECT EXISTS (SELECT 1 FROM {qualified} WHERE {spec.keep_while})")  # noqa: S608
            )
            if held:
                return None
        await conn.execute(text(f"ALTER TABLE {spec.table} DETACH PARTITION {qualified}"))
    locked = time.perf_counter() - locked
    async with conn.begin():
        await conn.execute(text(f"DROP TABLE {qualified}"))
    return locked


async def detached_months(conn: AsyncConnection, spec: Partitioned) -> list[date]:
    """Months of ``spec`` detached but not dropped (a run that stopped in between)."""
    names = await conn.scalars(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relkind = 'r' AND NOT c.relispartition"
            " AND starts_with(c.relname, :prefix)"
        ),
        {"schema": spec.schema, "prefix": f"{spec.name}_p"},
    )
    return _months_of(spec, names)


def expired(spec: Partitioned, month: date, now: datetime) -> bool:
    """Whether the month ended longer ago than the table's retention."""
    if spec.retention is None:
        return False
    ends = datetime.combine(add_months(month, 1), datetime.min.time(), tzinfo=UTC)
    return ends <= now - spec.retention


async def maintain(
    conn: AsyncConnection, now: datetime, specs: Iterable[Partitioned] = PARTITIONED
) -> Report:
    """Create the months up to :data:`MONTHS_AHEAD` ahead and drop the expired ones.

    ``conn`` is an owner connection outside a transaction; each partition is its own
    transaction, so one busy table does not hold the others back. Running it again
    changes nothing.
    """
    report = Report(
        created=[], moved_rows=0, dropped=[], held=[], busy=[], locked_ms=0.0, in_default={}
    )
    current = month_start(now.astimezone(UTC))
    for spec in specs:
        have = set(await existing_months(conn, spec))
        leftovers = [m for m in await detached_months(conn, spec) if expired(spec, m, now)]
        await conn.commit()
        for month in leftovers:
            async with conn.begin():
                await conn.execute(text(f"DROP TABLE {spec.schema}.{spec.partition(month)}"))
            report.dropped.append(f"{spec.schema}.{spec.partition(month)}")
        for offset in range(MONTHS_AHEAD + 1):
            month = add_months(current, offset)
            if month in have:
                continue
            qualified = f"{spec.schema}.{spec.partition(month)}"
            try:
                report.moved_rows += await create_month(conn, spec, month)
            except Exception as exc:
                if not _is_lock_timeout(exc):
                    raise
                report.busy.append(qualified)
                continue
            report.created.append(qualified)
        for month in sorted(have):
            if not expired(spec, month, now):
                continue
            qualified = f"{spec.schema}.{spec.partition(month)}"
            try:
                locked = await drop_month(conn, spec, month)
            except Exception as exc:
                if not _is_lock_timeout(exc):
                    raise
                report.busy.append(qualified)
                continue
            if locked is None:
                report.held.append(qualified)
                continue
            report.dropped.append(qualified)
            report.locked_ms = max(report.locked_ms, locked * 1000)
        waiting = await conn.scalar(text(f"SELECT count(*) FROM {spec.schema}.{spec.default}"))  # noqa: S608
        await conn.commit()
        if waiting:
            report.in_default[spec.table] = int(waiting)
    return report


def _is_lock_timeout(exc: Exception) -> bool:
    """PostgreSQL's "canceling statement due to lock timeout" (SQLSTATE 55P03)."""
    return "lock timeout" in str(exc)
