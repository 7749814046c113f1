"""Periodic messaging jobs (imported by the scheduler only).

Old outbox and inbox rows are not deleted here: their months are dropped whole by
the partitions job (:mod:`shared.db.partitions`, ``db.partitions``).
"""

from __future__ import annotations

from datetime import timedelta

from shared.messaging.relay import drain
from shared.scheduling.registry import periodic


@periodic("messaging.relay_sweep", every=timedelta(seconds=5))
async def relay_sweep() -> object:
    """Publish whatever the after-commit fast path and the relay loop missed."""
    return {"published": await drain()}
