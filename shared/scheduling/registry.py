"""Declaring periodic jobs.

A service declares its jobs in ``services/<name>/jobs.py``::

    @periodic("assignment.reap_leases", every=timedelta(seconds=15))
    async def reap_leases() -> object:
        ...
        return {"returned": n}          # a short summary for the run log

    @periodic("billing.monthly_run", cron="0 3 1 * *", timeout=timedelta(hours=1))
    async def monthly_run() -> object: ...

``every`` runs the job that long after its previous start; ``cron`` runs it at each
slot of a cron expression evaluated in UTC (croniter syntax; a sixth field is
seconds). Names are unique across the platform: declaring one twice raises at import.
The scheduler (:mod:`shared.scheduling.runner`) is the only thing that runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

JobFunc = Callable[[], Awaitable[object]]

DEFAULT_TIMEOUT = timedelta(minutes=10)


class JobDeclarationError(ValueError):
    """A job declared with a bad schedule, or under a name already taken."""


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    func: JobFunc
    every: timedelta | None
    cron: str | None
    timeout: timedelta
    module: str

    @property
    def schedule(self) -> str:
        """A stable text form of the schedule (stored beside the job's state)."""
        if self.cron is not None:
            return f"cron:{self.cron}"
        assert self.every is not None
        return f"every:{self.every.total_seconds():g}s"

    def first_due(self, now: datetime) -> datetime:
        """When a job never run before is first due: at once (``every``), the next slot (cron)."""
        if self.cron is not None:
            return self.next_slot_after(now)
        return now

    def next_due(self, started: datetime) -> datetime:
        """The next due time for a run that started at ``started``."""
        if self.cron is not None:
            return self.next_slot_after(started)
        assert self.every is not None
        return started + self.every

    def next_slot_after(self, moment: datetime) -> datetime:
        assert self.cron is not None
        nxt: datetime = croniter(self.cron, moment).get_next(datetime)
        return nxt


_REGISTRY: dict[str, Job] = {}


def periodic(
    name: str,
    *,
    every: timedelta | None = None,
    cron: str | None = None,
    timeout: timedelta | None = None,
) -> Callable[[JobFunc], JobFunc]:
    """Declare ``async def job() -> object`` as a periodic job (exactly one of every/cron)."""
    if (every is None) == (cron is None):
        raise JobDeclarationError(f"job {name!r}: give exactly one of every= or cron=")
    if every is not None and every <= timedelta(0):
        raise JobDeclarationError(f"job {name!r}: every= must be positive")
    if cron is not None and not croniter.is_valid(cron):
        raise JobDeclarationError(f"job {name!r}: invalid cron expression {cron!r}")
    limit = timeout or DEFAULT_TIMEOUT
    if limit <= timedelta(0):
        raise JobDeclarationError(f"job {name!r}: timeout= must be positive")

    def decorate(func: JobFunc) -> JobFunc:
        if name in _REGISTRY:
            other = _REGISTRY[name]
            raise JobDeclarationError(
                f"job {name!r} is already declared by {other.module}.{other.func.__qualname__}"
            )
        _REGISTRY[name] = Job(
            name=name,
            func=func,
            every=every,
            cron=cron,
            timeout=limit,
            module=func.__module__,
        )
        return func

    return decorate


def registered_jobs(modules: Iterable[str] | None = None) -> dict[str, Job]:
    """Every declared job by name; with ``modules``, only those declared in them (or below)."""
    if modules is None:
        return dict(_REGISTRY)
    wanted = tuple(modules)
    return {
        name: job
        for name, job in _REGISTRY.items()
        if any(job.module == m or job.module.startswith(m + ".") for m in wanted)
    }


def get_job(name: str) -> Job:
    """The job declared as ``name`` (``KeyError`` when there is none)."""
    return _REGISTRY[name]
