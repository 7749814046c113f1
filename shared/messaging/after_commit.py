"""Sending a dramatiq message once a transaction has committed.

A handler that creates work for an actor (a stored Stripe event, webhook deliveries)
sends the actor its ids only after the rows are committed: sent earlier, the worker
could look before the rows exist; sent on a rollback, it would look for rows that
never will. A failed send is logged, not raised, because the commit has happened:
each caller has a periodic job that finds the same work in the database.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


def send_after_commit(session: AsyncSession, actor: dramatiq.Actor[Any, Any], *args: Any) -> None:
    """Send ``actor(*args)`` once ``session`` commits (never if it rolls back)."""

    def after_commit(_: Any) -> None:
        try:
            actor.send(*args)
        except Exception:  # the caller's sweep job sends it later
            log.warning("enqueue after commit failed: %s", actor.actor_name, exc_info=True)

    sa_event.listen(session.sync_session, "after_commit", after_commit, once=True)
