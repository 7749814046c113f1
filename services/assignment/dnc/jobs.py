"""The do-not-call safety net: every 30 s, cancel pending tasks of listed numbers.

``dnc.add`` already cancels a number's tasks in its own transaction; this catches a
task created concurrently (a lead arriving while the number is being listed), so a
listed number has no pending task for longer than a minute.
"""

from __future__ import annotations

from datetime import timedelta

from services.assignment.dnc.service import dnc
from shared.db.session import STAFF, session_scope
from shared.scheduling.registry import periodic


@periodic("assignment.dnc_sweep", every=timedelta(seconds=30))
async def dnc_sweep() -> object:
    async with session_scope(STAFF) as session:
        cancelled = await dnc.sweep(session)
    return {"cancelled": cancelled}
