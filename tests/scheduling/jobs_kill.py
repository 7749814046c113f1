from datetime import timedelta

from shared.scheduling import periodic


@periodic("ops_test.kill_tick", every=timedelta(seconds=0.2))
async def kill_tick() -> object:
    return "tick"
