"""The scheduler against the real database: schedules, leadership, restarts, failures."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.db.base import utcnow
from shared.db.session import get_engine
from shared.scheduling.runner import run_job_now, run_scheduler

FAST: dict[str, Any] = {"poll": 0.2, "standby_retry": 0.2, "grace": 2.0}


@asynccontextmanager
async def scheduler(*modules: str, **options: Any) -> AsyncIterator[asyncio.Event]:
    """A running scheduler for the ``with`` block; stopped (and awaited) at its end."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler(stop, modules=list(modules), **{**FAST, **options}))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def owner_all(sql: str, **params: Any) -> list[Any]:
    async with get_engine(owner=True).connect() as conn:
        rows = (await conn.execute(text(sql), params)).all()
        await conn.commit()
    return list(rows)


async def owner_exec(sql: str, **params: Any) -> None:
    async with get_engine(owner=True).begin() as conn:
        await conn.execute(text(sql), params)


async def runs(job: str) -> list[Any]:
    return await owner_all(
        "select instance, started_at, finished_at, ok, summary, error from platform.job_runs "
        "where job = :job order by started_at",
        job=job,
    )


async def wait_for(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class TestEvery:
    async def test_job_runs_on_its_interval_and_is_recorded(self) -> None:
        async with scheduler("tests.scheduling.jobs_every"):
            await asyncio.sleep(1.1)
        rows = await runs("ops_test.every_tick")
        # every 0.2 s for ~1.1 s: first at once, then each 0.2 s after the previous start
        # (never sooner; a loaded machine may make it a little later)
        assert 3 <= len(rows) <= 7
        assert all(r.ok and r.finished_at is not None for r in rows)
        assert rows[-1].summary.startswith('{"tick":')
        gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(rows)]
        assert min(gaps) >= 0.19
        state = await owner_all(
            "select last_ok, next_due_at, schedule from platform.job_state where job = :j",
            j="ops_test.every_tick",
        )
        assert state[0].last_ok is True
        assert state[0].schedule == "every:0.2s"
        assert metric("kolokol_job_runs_total", job="ops_test.every_tick", outcome="ok") == len(
            rows
        )


class TestLeadership:
    async def test_two_schedulers_one_runs_and_the_standby_takes_over(self) -> None:
        job = "ops_test.pair_tick"
        stops = {"a": asyncio.Event(), "b": asyncio.Event()}
        tasks = {
            name: asyncio.create_task(
                run_scheduler(stop, modules=["tests.scheduling.jobs_pair"], instance=name, **FAST)
            )
            for name, stop in stops.items()
        }
        try:
            await asyncio.sleep(1.2)
            before = await runs(job)
            assert len(before) >= 3
            leaders = {r.instance for r in before}
            assert len(leaders) == 1, "only one scheduler may run jobs"
            (leader,) = leaders
            (standby,) = set(stops) - leaders

            stops[leader].set()
            await asyncio.wait_for(tasks[leader], timeout=10)
            stopped_at = utcnow()
            await asyncio.sleep(1.2)
            after = [r for r in await runs(job) if r.started_at > stopped_at]
            assert after, "the standby must take over"
            assert {r.instance for r in after} == {standby}
        finally:
            for stop in stops.values():
                stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks.values()), timeout=10)

    async def test_leader_whose_connection_dies_is_replaced(self) -> None:
        job = "ops_test.kill_tick"
        async with scheduler("tests.scheduling.jobs_kill"), scheduler("tests.scheduling.jobs_kill"):
            await asyncio.sleep(0.8)
            killed = await owner_all(
                "select pg_terminate_backend(pid) from pg_locks "
                "where locktype = 'advisory' and granted "
                "and database = (select oid from pg_database where datname = current_database())"
            )
            assert len(killed) == 1
            killed_at = utcnow()
            await asyncio.sleep(1.5)
            # one scheduler leads again: a live lock holder, and jobs keep running
            holders = await owner_all(
                "select pid from pg_locks where locktype = 'advisory' and granted "
                "and database = (select oid from pg_database where datname = current_database())"
            )
            assert len(holders) == 1
        after = [r for r in await runs(job) if r.started_at > killed_at]
        assert len(after) >= 3


class TestCron:
    async def test_slot_that_ran_is_not_rerun_after_restart(self) -> None:
        job = "ops_test.every_3s"
        async with scheduler("tests.scheduling.jobs_cron"):
            await wait_for(lambda: _count(job, 1), within=4)
        first = await runs(job)
        assert len(first) == 1
        slot = first[0].started_at
        assert slot.second % 3 == 0
        state = await owner_all("select next_due_at from platform.job_state where job = :j", j=job)
        assert state[0].next_due_at == slot.replace(microsecond=0) + timedelta(seconds=3)

        # Restart at once, inside the same 3-second slot: nothing runs again...
        async with scheduler("tests.scheduling.jobs_cron"):
            await asyncio.sleep(0.8)
            assert len(await runs(job)) == 1
            # ...until the next slot comes.
            await wait_for(lambda: _count(job, 2), within=4)
        second = (await runs(job))[1]
        assert (second.started_at.replace(microsecond=0) - slot.replace(microsecond=0)) == (
            timedelta(seconds=3)
        )

    async def test_monthly_job_missed_slot_runs_once_then_never_again_on_restart(self) -> None:
        job = "ops_test.monthly"
        async with scheduler("tests.scheduling.jobs_cron"):
            await asyncio.sleep(0.5)
        assert await runs(job) == [], "a new cron job waits for its next slot"
        (due,) = await owner_all("select next_due_at from platform.job_state where job = :j", j=job)
        assert (due.next_due_at.day, due.next_due_at.hour, due.next_due_at.minute) == (1, 3, 0)

        # The scheduler was down when the slot passed: it is caught up once.
        await owner_exec(
            "update platform.job_state set next_due_at = now() - interval '2 months' "
            "where job = :j",
            j=job,
        )
        async with scheduler("tests.scheduling.jobs_cron"):
            await wait_for(lambda: _count(job, 1), within=3)
            await asyncio.sleep(0.5)
        assert len(await runs(job)) == 1
        (due,) = await owner_all("select next_due_at from platform.job_state where job = :j", j=job)
        assert due.next_due_at > utcnow()
        assert (due.next_due_at.day, due.next_due_at.hour) == (1, 3)

        # Restarted again: the slot ran, so the run is not repeated.
        async with scheduler("tests.scheduling.jobs_cron"):
            await asyncio.sleep(0.8)
        assert len(await runs(job)) == 1


class TestFailures:
    async def test_failing_and_overrunning_jobs_are_recorded_and_others_go_on(self) -> None:
        async with scheduler("tests.scheduling.jobs_failing"):
            await asyncio.sleep(1.5)
        boom, slow, fine = (
            await runs("ops_test.boom"),
            await runs("ops_test.slow"),
            await runs("ops_test.fine"),
        )
        assert len(boom) >= 2, "a failing job is retried on its schedule"
        assert all(r.ok is False and r.error == "RuntimeError: the job broke" for r in boom)
        assert slow
        assert all(r.ok is False for r in slow if r.finished_at)
        assert slow[0].error == "timed out after 0.2 s"
        assert len(fine) >= 3
        assert all(r.ok for r in fine)
        (state,) = await owner_all(
            "select last_ok from platform.job_state where job = 'ops_test.boom'"
        )
        assert state.last_ok is False
        assert metric("kolokol_job_runs_total", job="ops_test.boom", outcome="error") == len(boom)
        assert metric("kolokol_job_runs_total", job="ops_test.slow", outcome="timeout") >= 1
        assert metric("kolokol_job_duration_seconds_count", job="ops_test.fine") >= len(fine)


class TestRunJobNow:
    async def test_runs_once_and_keeps_the_schedule(self) -> None:
        job = "ops_test.manual"
        await run_job_now(job, modules=["tests.scheduling.jobs_manual"])
        (before,) = await owner_all(
            "select next_due_at from platform.job_state where job = :j", j=job
        )
        result = await run_job_now(job)
        assert result.ok
        assert result.summary == '{"invoices":0}'
        (after,) = await owner_all(
            "select next_due_at, last_ok from platform.job_state where job = :j", j=job
        )
        assert after.next_due_at == before.next_due_at
        assert after.last_ok is True
        assert any(r.instance.startswith("manual:") for r in await runs(job))

    async def test_unknown_job_raises(self) -> None:
        with pytest.raises(KeyError):
            await run_job_now("ops_test.nope")


async def _count(job: str, n: int) -> bool:
    return len(await runs(job)) >= n
