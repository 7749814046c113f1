"""Periodic messaging jobs (imported by the scheduler only)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from shared.db.ddl import SERVICE_SCHEMAS
from shared.db.session import STAFF, session_scope
from shared.messaging.relay import drain
from shared.scheduling.registry import periodic

OUTBOX_KEEP_DAYS = 7
INBOX_KEEP_DAYS = 30


@periodic("messaging.relay_sweep", every=timedelta(seconds=5))
async def relay_sweep() -> object:
    """Publish whatever the after-commit fast path and the relay loop missed."""
    return {"published": await drain()}


@periodic("messaging.prune", every=timedelta(hours=1))
async def prune() -> object:
    """Drop published outbox rows after a week and inbox ids after a month.

    Published rows still hold payloads (some with personal data for their consumer),
    so they are not kept longer than replay needs.
    """
    removed = {"outbox": 0, "inbox": 0}
    async with session_scope(STAFF) as session:
        for schema in SERVICE_SCHEMAS:
            outbox = await session.execute(
                text(
                    f"DELETE FROM {schema}.outbox WHERE published_at IS NOT NULL"  # noqa: S608
                    " AND published_at < now() - make_interval(days => :days)"
                ),
                {"days": OUTBOX_KEEP_DAYS},
            )
            inbox = await session.execute(
                text(
                    f"DELETE FROM {schema}.inbox"  # noqa: S608
                    " WHERE applied_at < now() - make_interval(days => :days)"
                ),
                {"days": INBOX_KEEP_DAYS},
            )
            removed["outbox"] += outbox.rowcount  # type: ignore[attr-defined]
            removed["inbox"] += inbox.rowcount  # type: ignore[attr-defined]
    return removed
