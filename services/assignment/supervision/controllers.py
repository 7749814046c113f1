"""``GET /v1/queues``: per-project queue figures and today's speed to lead (staff)."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.supervision.schemas import QueueStats
from services.assignment.supervision.service import supervision
from shared.auth.guards import require_roles
from shared.context import Role
from shared.http.pagination import Page


class QueueController(Controller):
    path = "/v1/queues"
    tags = ["supervision"]

    @get(
        "/",
        guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)],
        operation_id="ListQueues",
        summary="Queues per project",
    )
    async def list_queues(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID | None = Parameter(query="tenant_id", default=None, required=False),
        project_id: uuid.UUID | None = Parameter(query="project_id", default=None, required=False),
    ) -> Page[QueueStats]:
        """Every project (one page: a row per project): waiting now, due later, oldest
        waiting age, in progress, operators available and on task, today's speed to lead
        (p50, p90) and service level against the project's target."""
        items = await supervision.queues(session, tenant_id=tenant_id, project_id=project_id)
        return Page(items=items, next_cursor=None)


QUEUE_ROUTE_HANDLERS = [QueueController]
