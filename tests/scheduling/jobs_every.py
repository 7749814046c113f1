"""Jobs for tests/scheduling (imported by the scheduler under test)."""

from datetime import timedelta

from shared.scheduling import periodic

TICKS: list[int] = []


@periodic("ops_test.every_tick", every=timedelta(seconds=0.2))
async def every_tick() -> object:
    TICKS.append(1)
    return {"tick": len(TICKS)}
