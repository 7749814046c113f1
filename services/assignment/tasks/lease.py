"""Holding a task: the lease's length, whose call it is, and why one does not hold it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import LeaseLost, OperatorNotFound, TaskNotFound
from services.assignment.tasks import repository
from shared.context import Ctx

DEFAULT_LEASE_SECONDS = 600.0


def operator_of(ctx: Ctx) -> uuid.UUID:
    """The calling operator's id (their user id)."""
    if ctx.principal_id is None:
        raise OperatorNotFound()
    return ctx.principal_id


async def not_held(session: AsyncSession, task_id: uuid.UUID, operator_id: uuid.UUID) -> None:
    """Raise why the operator does not hold the task: 409 ``lease_lost`` if it was once
    theirs, 404 otherwise."""
    if await repository.ever_assigned(session, task_id, operator_id):
        raise LeaseLost("your lease on this task expired; it went back to the queue")
    raise TaskNotFound()
