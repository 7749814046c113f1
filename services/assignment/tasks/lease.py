"""Holding a task: the lease's length, whose call it is, which tenant the task is in
(the operator's latest lease tells), and why one does not hold it."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import LeaseLost, OperatorNotFound, TaskNotFound
from services.assignment.operators import repository as operators
from shared.context import Ctx

DEFAULT_LEASE_SECONDS = 600.0


def operator_of(ctx: Ctx) -> uuid.UUID:
    """The calling operator's id (their user id)."""
    if ctx.principal_id is None:
        raise OperatorNotFound()
    return ctx.principal_id


async def latest_lease(session: AsyncSession, operator_id: uuid.UUID) -> Any:
    """The operator's latest lease (``current_tenant_id, current_task_id``): how their
    calls find a task's tenant; 404 without a profile."""
    lease = await operators.current_lease(session, operator_id)
    if lease is None:
        raise TaskNotFound()
    return lease


def tenant_of(lease: Any, task_id: uuid.UUID) -> uuid.UUID:
    """The tenant of ``task_id`` if it is the operator's latest lease, else 404 (a task
    the operator never held, or one held before their latest)."""
    if lease.current_task_id != task_id or lease.current_tenant_id is None:
        raise TaskNotFound()
    tenant_id: uuid.UUID = lease.current_tenant_id
    return tenant_id


def not_held() -> NoReturn:
    """The operator's latest lease on the task is over: 409 ``lease_lost``."""
    raise LeaseLost("your lease on this task expired; it went back to the queue")
