"""``/v1/projects``: create, list, read, change and move projects through their lifecycle.

Staff (admin, account manager) write; every person reads, client users only their
own tenant's projects (another tenant's answers 404, as does a missing one).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.projects.schemas import (
    Project,
    ProjectCreate,
    ProjectStatusChange,
    ProjectUpdate,
)
from services.pricing.projects.service import projects, to_schema
from services.pricing.projects.settings import ProjectKind, ProjectStatus
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problem_spec
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating

SCHEMA = "pricing"
WRITERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)]
READERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, Role.CLIENT_USER)]
"""Not operators: a project is a client's (its price plan, its settings); an operator
gets what calling needs of it (script, dispositions, window) with the task they hold."""


NOT_FOUND = {404: problem_spec("`project_not_found`: no such project, or not yours")}
CLOSED = {409: problem_spec("`project_closed`: a closed project cannot change")}
TRANSITION = {
    409: problem_spec(
        "`project_invalid_transition`: the status does not allow this move "
        "(`extra.status` is the current one)"
    )
}


class ProjectController(Controller):
    path = "/v1/projects"
    tags = ["projects"]

    @post(
        "/",
        guards=WRITERS,
        operation_id="CreateProject",
        summary="Create a project",
        response_headers=created_headers(),
        responses=creating(
            s409="`tenant_closed`: the tenant is closed",
            s422=(
                "`validation`: bad fields; `errors[].field` names each path "
                "(`settings.calling_window.mon.end`, `settings.dispositions[2].stage`, "
                "`tenant_id` with code `unknown_tenant`)"
            ),
        ),
    )
    async def create_project(
        self,
        request: Request[Any, Any, Any],
        data: ProjectCreate,
        ctx: Ctx,
        session: AsyncSession,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Project]:
        """A draft project of ``kind`` for ``tenant_id``, with the kind's default settings
        (in the tenant's time zone) overridden by ``settings``. Accepts ``Idempotency-Key``."""

        async def make() -> tuple[Project, str, uuid.UUID]:
            project = await projects.create(session, ctx, data)
            return to_schema(project, ctx), f"/v1/projects/{project.id}", project.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get("/", guards=READERS, operation_id="ListProjects", summary="List projects")
    async def list_projects(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        tenant_id: uuid.UUID | None = Parameter(query="tenant_id", default=None, required=False),
        status: ProjectStatus | None = Parameter(query="status", default=None, required=False),
        kind: ProjectKind | None = Parameter(query="kind", default=None, required=False),
    ) -> Page[Project]:
        """Newest first. Client users see only their tenant's projects."""
        return await projects.list(
            session, ctx, params=page_params, tenant_id=tenant_id, status=status, kind=kind
        )

    @get(
        "/{project_id:uuid}",
        guards=READERS,
        operation_id="GetProject",
        summary="Read a project",
        responses=NOT_FOUND,
    )
    async def get_project(self, project_id: uuid.UUID, ctx: Ctx, session: AsyncSession) -> Project:
        return to_schema(await projects.get(session, ctx, project_id), ctx)

    @patch(
        "/{project_id:uuid}",
        guards=WRITERS,
        operation_id="UpdateProject",
        summary="Rename a project or change its settings",
        responses={
            **NOT_FOUND,
            **CLOSED,
            422: problem_spec("`validation`: `errors[].field` names each bad settings path"),
        },
    )
    async def update_project(
        self, project_id: uuid.UUID, data: ProjectUpdate, ctx: Ctx, session: AsyncSession
    ) -> Project:
        """``settings`` is partial: merged into the current settings, then validated as a
        whole. A real change bumps ``settings_version`` and emits ``project.updated``."""
        return to_schema(await projects.update(session, ctx, project_id, data), ctx)

    @post(
        "/{project_id:uuid}/pause",
        guards=WRITERS,
        operation_id="PauseProject",
        summary="Pause an active project",
        status_code=200,
        responses={**NOT_FOUND, **TRANSITION},
    )
    async def pause_project(
        self,
        project_id: uuid.UUID,
        ctx: Ctx,
        session: AsyncSession,
        data: ProjectStatusChange | None = None,
    ) -> Project:
        """``active`` → ``paused``: no new calls until resumed."""
        reason = data.reason if data else None
        return to_schema(await projects.pause(session, ctx, project_id, reason), ctx)

    @post(
        "/{project_id:uuid}/resume",
        guards=WRITERS,
        operation_id="ResumeProject",
        summary="Resume a paused project",
        status_code=200,
        responses={**NOT_FOUND, **TRANSITION},
    )
    async def resume_project(
        self,
        project_id: uuid.UUID,
        ctx: Ctx,
        session: AsyncSession,
        data: ProjectStatusChange | None = None,
    ) -> Project:
        """``paused`` → ``active``."""
        reason = data.reason if data else None
        return to_schema(await projects.resume(session, ctx, project_id, reason), ctx)

    @post(
        "/{project_id:uuid}/close",
        guards=WRITERS,
        operation_id="CloseProject",
        summary="Close a project for good",
        status_code=200,
        responses={**NOT_FOUND, **TRANSITION},
    )
    async def close_project(
        self,
        project_id: uuid.UUID,
        ctx: Ctx,
        session: AsyncSession,
        data: ProjectStatusChange | None = None,
    ) -> Project:
        """Any open status → ``closed``; a closed project is read-only."""
        reason = data.reason if data else None
        return to_schema(await projects.close(session, ctx, project_id, reason), ctx)


PROJECT_ROUTE_HANDLERS = [ProjectController]
