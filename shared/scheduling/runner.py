"""The scheduler: one active process runs every declared periodic job.

``kolokol scheduler`` calls :func:`run_scheduler`. Leadership is a session-level
PostgreSQL advisory lock taken on a dedicated connection held for the leader's
life. A second instance finds the lock taken and waits as a hot standby, retrying
every few seconds; when the leader stops or its connection dies, PostgreSQL
releases the lock and the standby takes over.

Each job's next due time lives in ``platform.job_state``. The leader advances it
*before* a run starts (a compare-and-set on the old value, so even two processes
that both believed they lead could not start the same slot twice), which is why a
restarted scheduler never re-runs a cron slot that already ran: a monthly billing
run happens once per slot, at most. A slot missed while no scheduler ran is caught
up once, not once per missed slot. Every run is a row in ``platform.job_runs``.
A job that raises or overruns its timeout is recorded and counted; the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import socket
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shared.config import Settings, get_settings
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.scheduling.models import JobRun, JobState
from shared.scheduling.registry import Job, get_job, registered_jobs

log = structlog.get_logger(__name__)

LOCK_KEY = 0x4B4F4C_0001
"""The advisory lock key of the scheduler (advisory locks are per database)."""

SUMMARY_LIMIT = 1000
ERROR_LIMIT = 4000

JOB_RUNS = Counter(
    "kolokol_job_runs_total",
    "Periodic job runs by outcome (ok, error, timeout, cancelled).",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    "kolokol_job_duration_seconds",
    "Duration of periodic job runs.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
LEADER = Gauge("kolokol_scheduler_leader", "1 while this process is the active scheduler.")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did: ``outcome`` is ok, error, timeout or cancelled."""

    job: str
    run_id: str
    outcome: str
    summary: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def import_job_modules(modules: Iterable[str]) -> None:
    """Import the modules that declare jobs (``services.billing.jobs`` …)."""
    for module in modules:
        importlib.import_module(module)


def _instance_name(kind: str = "scheduler") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{new_id().hex[-6:]}"


def _summarize(result: object) -> str | None:
    if result is None:
        return None
    if isinstance(result, str):
        out = result
    else:
        try:
            out = msgspec.json.encode(msgspec.to_builtins(result, str_keys=True)).decode()
        except (TypeError, ValueError):
            out = repr(result)
    return out[:SUMMARY_LIMIT]


async def _record_start(job: Job, run_id: object, instance: str, started: datetime) -> None:
    try:
        async with session_scope(STAFF) as session:
            await session.execute(
                insert(JobRun).values(
                    id=run_id, job=job.name, instance=instance, started_at=started
                )
            )
    except Exception:
        log.exception("scheduler.record_failed", job=job.name, stage="start")


async def _record_finish(
    job: Job,
    run_id: object,
    started: datetime,
    *,
    ok: bool,
    summary: str | None,
    error: str | None,
) -> None:
    finished = utcnow()
    try:
        async with session_scope(STAFF) as session:
            await session.execute(
                update(JobRun)
                # started_at: the partition key, so the update reads one month only
                .where(JobRun.id == run_id, JobRun.started_at == started)
                .values(finished_at=finished, ok=ok, summary=summary, error=error)
            )
            await session.execute(
                update(JobState)
                .where(JobState.job == job.name)
                .values(last_finished_at=finished, last_ok=ok)
            )
    except Exception:
        log.exception("scheduler.record_failed", job=job.name, stage="finish")


async def execute_job(job: Job, *, instance: str, started: datetime | None = None) -> RunResult:
    """Run ``job`` once under its timeout, recording the run; never raises (except cancel)."""
    started = started or utcnow()
    run_id = new_id()
    await _record_start(job, run_id, instance, started)
    clock = time.monotonic()
    outcome, summary, error = "ok", None, None
    try:
        try:
            result = await asyncio.wait_for(job.func(), job.timeout.total_seconds())
            summary = _summarize(result)
        except TimeoutError:
            outcome = "timeout"
            error = f"timed out after {job.timeout.total_seconds():g} s"
            log.error("scheduler.job_timeout", job=job.name, run_id=str(run_id))
        except asyncio.CancelledError:
            outcome, error = "cancelled", "cancelled (scheduler stopped or lost leadership)"
            raise
        except Exception as exc:
            outcome = "error"
            error = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_LIMIT]
            # The traceback as plain text: cheap, whatever renderer the logs use.
            log.error(
                "scheduler.job_failed",
                job=job.name,
                run_id=str(run_id),
                error=error,
                traceback="".join(traceback.format_exception(exc)),
            )
    finally:
        elapsed = time.monotonic() - clock
        JOB_RUNS.labels(job=job.name, outcome=outcome).inc()
        JOB_DURATION.labels(job=job.name).observe(elapsed)
        await _record_finish(job, run_id, started, ok=outcome == "ok", summary=summary, error=error)
        if outcome == "ok":
            log.info("scheduler.job_done", job=job.name, seconds=round(elapsed, 3), summary=summary)
    return RunResult(job.name, str(run_id), outcome, summary, error)


async def run_job_now(name: str, *, modules: Sequence[str] = ()) -> RunResult:
    """Run one job at once, outside its schedule (CLI, tests); its next due time is kept."""
    import_job_modules(modules)
    job = get_job(name)
    started = utcnow()
    async with session_scope(STAFF) as session:
        await _ensure_state(session, [job], started)
        await session.execute(
            update(JobState).where(JobState.job == job.name).values(last_started_at=started)
        )
    return await execute_job(job, instance=_instance_name("manual"), started=started)


async def _ensure_state(
    session: AsyncSession, jobs: Sequence[Job], now: datetime
) -> dict[str, datetime]:
    """Create or refresh each job's state row; answer each job's next due time."""
    rows = {
        row.job: row
        for row in (
            await session.scalars(
                select(JobState).where(JobState.job.in_([j.name for j in jobs])).with_for_update()
            )
        ).all()
    }
    due: dict[str, datetime] = {}
    for job in jobs:
        row = rows.get(job.name)
        if row is None:
            due[job.name] = job.first_due(now)
            session.add(JobState(job=job.name, schedule=job.schedule, next_due_at=due[job.name]))
        elif row.schedule != job.schedule or row.next_due_at is None:
            # A new schedule starts afresh; the old one's next slot means nothing now.
            due[job.name] = job.first_due(now)
            row.schedule, row.next_due_at = job.schedule, due[job.name]
        else:
            due[job.name] = row.next_due_at
    await session.flush()
    return due


class _LostLeadership(Exception):
    pass


class _Leader:
    """The loop of the active scheduler, while it holds the lock connection."""

    def __init__(
        self, jobs: dict[str, Job], lock: AsyncConnection, instance: str, poll: float
    ) -> None:
        self.jobs = jobs
        self.lock = lock
        self.instance = instance
        self.poll = poll
        self.due: dict[str, datetime] = {}
        self.running: dict[str, asyncio.Task[RunResult]] = {}
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event, grace: float) -> None:
        async with session_scope(STAFF) as session:
            self.due = await _ensure_state(session, list(self.jobs.values()), utcnow())
        last_check = time.monotonic()
        try:
            while not stop.is_set():
                await self._start_due()
                if time.monotonic() - last_check >= self.poll:
                    await self._check_lock()
                    last_check = time.monotonic()
                await self._sleep(stop)
        except _LostLeadership:
            log.error("scheduler.leadership_lost", instance=self.instance)
            await self._cancel_running()
            return
        except BaseException:
            await self._cancel_running()
            raise
        await self._drain(grace)

    async def _start_due(self) -> None:
        now = utcnow()
        for name, job in self.jobs.items():
            if name in self.running or self.due[name] > now:
                continue
            expected = self.due[name]
            nxt = job.next_due(now)
            async with session_scope(STAFF) as session:
                claimed = await session.scalar(
                    update(JobState)
                    .where(JobState.job == name, JobState.next_due_at == expected)
                    .values(next_due_at=nxt, last_started_at=now)
                    .returning(JobState.job)
                )
                if claimed is None:
                    current = await session.scalar(
                        select(JobState.next_due_at).where(JobState.job == name)
                    )
            if claimed is None:
                log.warning("scheduler.slot_taken", job=name, instance=self.instance)
                self.due[name] = current or job.first_due(now)
                continue
            self.due[name] = nxt
            task = asyncio.create_task(
                execute_job(job, instance=self.instance, started=now), name=f"job:{name}"
            )
            self.running[name] = task
            task.add_done_callback(functools.partial(self._finished, name))

    def _finished(self, name: str, _task: object) -> None:
        self.running.pop(name, None)
        self.wake.set()

    async def _sleep(self, stop: asyncio.Event) -> None:
        waiting = [d for n, d in self.due.items() if n not in self.running]
        now = utcnow()
        delay = self.poll
        if waiting:
            delay = max(0.0, min(delay, (min(waiting) - now).total_seconds()))
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _check_lock(self) -> None:
        try:
            await asyncio.wait_for(self.lock.execute(text("select 1")), timeout=5)
        except Exception as exc:
            raise _LostLeadership from exc

    async def _cancel_running(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, grace: float) -> None:
        tasks = list(self.running.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _take_lock(engine: AsyncEngine) -> AsyncConnection | None:
    """A connection holding the scheduler lock, or ``None`` (held elsewhere, or no database)."""
    try:
        conn = await engine.connect()
    except Exception as exc:
        log.warning("scheduler.db_unreachable", error=type(exc).__name__)
        return None
    try:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = await conn.scalar(text("select pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
    except Exception as exc:
        log.warning("scheduler.lock_failed", error=type(exc).__name__)
        await _close(conn)
        return None
    if got:
        return conn
    await _close(conn)
    return None


async def _close(conn: AsyncConnection) -> None:
    # NullPool: closing the connection closes the socket, which releases the lock.
    with contextlib.suppress(Exception):
        await conn.close()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_scheduler(
    stop: asyncio.Event,
    *,
    modules: Sequence[str],
    settings: Settings | None = None,
    standby_retry: float = 3.0,
    poll: float = 1.0,
    grace: float = 30.0,
    instance: str | None = None,
) -> None:
    """Run the jobs declared in ``modules`` until ``stop`` is set, as leader or hot standby.

    ``modules`` are imported; the jobs declared in them (or in their submodules) are
    the ones this scheduler runs. ``standby_retry`` is how often a standby tries the
    lock, ``poll`` how often the leader checks its lock connection, ``grace`` how long
    running jobs may finish after ``stop`` before they are cancelled; ``instance`` names
    this process in ``platform.job_runs`` (default ``scheduler:<host>:<pid>:<random>``).
    """
    settings = settings or get_settings()
    import_job_modules(modules)
    jobs = registered_jobs(modules)
    instance = instance or _instance_name()
    log.info("scheduler.starting", instance=instance, jobs=sorted(jobs))
    engine = create_async_engine(
        settings.sqlalchemy_app_url,
        poolclass=NullPool,
        hide_parameters=True,  # no bound values in error messages (see shared/db/session.py)
        connect_args={"server_settings": {"application_name": "kolokol-scheduler"}},
    )
    standby_logged = False
    try:
        while not stop.is_set():
            lock = await _take_lock(engine)
            if lock is None:
                if not standby_logged:
                    log.info("scheduler.standby", instance=instance)
                    standby_logged = True
                await _wait(stop, standby_retry)
                continue
            standby_logged = False
            log.info("scheduler.leading", instance=instance)
            LEADER.set(1)
            failed = False
            try:
                await _Leader(jobs, lock, instance, poll).run(stop, grace)
            except Exception:
                # The database went away mid-claim, say: step down, retry as a standby.
                log.exception("scheduler.leader_failed", instance=instance)
                failed = True
            finally:
                LEADER.set(0)
                await _close(lock)
            if failed:
                await _wait(stop, standby_retry)
    finally:
        await engine.dispose()
        log.info("scheduler.stopped", instance=instance)
