from datetime import timedelta

from shared.scheduling import periodic


@periodic("ops_test.pair_tick", every=timedelta(seconds=0.2))
async def pair_tick() -> object:
    return "tick"
