"""``/v1/tasks``: heartbeat and complete (the operator holding the task), bulk follow-ups
(account managers, admins)."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.tasks.schemas import (
    BulkResult,
    BulkTasks,
    Completion,
    Heartbeat,
    TaskComplete,
)
from services.assignment.tasks.service import tasks
from shared.auth.guards import require_roles
from shared.context import Ctx, Role

MANAGERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)]
OPERATORS = [require_roles(Role.OPERATOR)]


class TaskController(Controller):
    path = "/v1/tasks"
    tags = ["tasks"]

    @post(
        "/{task_id:uuid}/heartbeat", guards=OPERATORS, operation_id="TaskHeartbeat", status_code=200
    )
    async def heartbeat(self, task_id: uuid.UUID, ctx: Ctx, session: AsyncSession) -> Heartbeat:
        """Renew the lease; 409 ``lease_lost`` once it lapsed, 404 if it was never yours."""
        return await tasks.heartbeat(session, ctx, task_id)

    @post(
        "/{task_id:uuid}/complete", guards=OPERATORS, operation_id="CompleteTask", status_code=200
    )
    async def complete(
        self, task_id: uuid.UUID, data: TaskComplete, ctx: Ctx, session: AsyncSession
    ) -> Completion:
        """Record the call's outcome; the retry policy schedules the next task. A repeat
        answers the same result; another operator's task is a 404."""
        return await tasks.complete(session, ctx, task_id, data)

    @post("/bulk", guards=MANAGERS, operation_id="BulkTasks", status_code=200)
    async def bulk(self, data: BulkTasks, ctx: Ctx, session: AsyncSession) -> BulkResult:
        """Follow-up tasks for leads of one project; each lead's outcome (``created``,
        ``not_found``, ``erased``, ``do_not_call``, ``pending_task``)."""
        return await tasks.bulk(session, ctx, data)


TASK_ROUTE_HANDLERS = [TaskController]
