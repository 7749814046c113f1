"""Periodic jobs of the platform's own tables (imported by the scheduler only)."""

from __future__ import annotations

from datetime import timedelta

from shared.db import partitions
from shared.db.base import utcnow
from shared.db.session import get_engine
from shared.scheduling.registry import periodic


@periodic("db.partitions", every=timedelta(hours=1))
async def maintain_partitions() -> object:
    """Keep the next months' partitions ready; detach and drop those past retention.

    On the owner connection: creating and dropping partitions is DDL, which the app
    role is never granted.
    """
    async with get_engine(owner=True).connect() as conn:
        report = await partitions.maintain(conn, utcnow())
    return report.summary()
