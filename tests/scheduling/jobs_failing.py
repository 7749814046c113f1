import asyncio
from datetime import timedelta

from shared.scheduling import periodic


@periodic("ops_test.boom", every=timedelta(seconds=0.2))
async def boom() -> object:
    raise RuntimeError("the job broke")


@periodic("ops_test.slow", every=timedelta(seconds=0.2), timeout=timedelta(seconds=0.2))
async def slow() -> object:
    await asyncio.sleep(5)
    return "never"


@periodic("ops_test.fine", every=timedelta(seconds=0.2))
async def fine() -> object:
    return "fine"
