"""Declaring jobs: schedules are checked and names are unique at import time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.scheduling.registry import JobDeclarationError, periodic, registered_jobs


async def _noop() -> object:
    return None


class TestPeriodic:
    def test_requires_exactly_one_of_every_and_cron(self) -> None:
        with pytest.raises(JobDeclarationError, match="exactly one"):
            periodic("ops_test.neither")
        with pytest.raises(JobDeclarationError, match="exactly one"):
            periodic("ops_test.both", every=timedelta(seconds=1), cron="* * * * *")

    def test_rejects_bad_cron_and_non_positive_interval(self) -> None:
        with pytest.raises(JobDeclarationError, match="invalid cron"):
            periodic("ops_test.bad_cron", cron="every monday")
        with pytest.raises(JobDeclarationError, match="positive"):
            periodic("ops_test.zero", every=timedelta(0))

    def test_duplicate_name_raises(self) -> None:
        periodic("ops_test.unique", every=timedelta(minutes=1))(_noop)
        with pytest.raises(JobDeclarationError, match="already declared"):
            periodic("ops_test.unique", cron="* * * * *")(_noop)

    def test_registered_jobs_filters_by_module(self) -> None:
        import tests.scheduling.jobs_cron  # noqa: F401

        jobs = registered_jobs(["tests.scheduling.jobs_cron"])
        assert set(jobs) == {"ops_test.every_3s", "ops_test.monthly"}
        assert jobs["ops_test.monthly"].schedule == "cron:0 3 1 * *"
        assert "ops_test.every_3s" in registered_jobs(["tests.scheduling"])
        assert "ops_test.every_3s" not in registered_jobs(["tests.sched"])
