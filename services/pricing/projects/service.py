"""Project rules: creation from kind defaults, settings changes, the status lifecycle.

Every change bumps ``settings_version`` by one, writes ``project.updated`` (the whole
snapshot and the version as ``revision``) to the outbox in the same transaction, and
appends an audit entry. Status moves::

    draft --mark_quoted--> quoted --apply_price_plan--> active <--pause/resume--> paused
    any but closed --close--> closed (read-only from then on)

``apply_price_plan`` also works on an active project (a new accepted quote replaces
the plan) and on a paused one (the plan changes, the project stays paused: pausing is
an operational decision a commercial one does not undo).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import (
    ProjectClosed,
    ProjectNotFound,
    ProjectTransitionInvalid,
    TenantClosed,
)
from services.pricing.mirrors.tenants import get_tenant
from services.pricing.projects import repository
from services.pricing.projects.defaults import default_settings
from services.pricing.projects.models import Project, ProjectStatusChange
from services.pricing.projects.schemas import Project as ProjectOut
from services.pricing.projects.schemas import ProjectCreate, ProjectUpdate
from services.pricing.projects.settings import (
    ProjectKind,
    ProjectSettings,
    ProjectStatus,
    merge,
    parse_settings,
    to_data,
)
from shared.audit.log import record
from shared.context import Ctx
from shared.errors import ValidationFailed
from shared.http.pagination import Page, PageParams
from shared.messaging.events import ProjectUpdatedV1, new_event
from shared.messaging.outbox import publish

S = ProjectStatus

INTERNAL_PLAN_KEYS = frozenset({"notes_internal", "margins"})
"""Price-plan keys only staff see (also any key starting with ``internal_``)."""


def _client_plan(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        k: v
        for k, v in plan.items()
        if k not in INTERNAL_PLAN_KEYS and not k.startswith("internal_")
    }


def to_schema(project: Project, ctx: Ctx) -> ProjectOut:
    """The API view of a project; price-plan internals are cut for client callers."""
    return ProjectOut(
        id=project.id,
        tenant_id=project.tenant_id,
        name=project.name,
        kind=ProjectKind(project.kind),
        status=ProjectStatus(project.status),
        settings=settings_of(project),
        settings_version=project.settings_version,
        price_plan=project.price_plan if ctx.is_staff else _client_plan(project.price_plan),
        accepted_quote_id=project.accepted_quote_id,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


def settings_of(project: Project) -> ProjectSettings:
    return msgspec.convert(project.settings, ProjectSettings)


def snapshot(project: Project, *, currency: str | None = None) -> dict[str, Any]:
    """The ``project.updated`` payload: the whole operational snapshot at this version.

    The fields of ``ProjectUpdatedV1`` (``revision`` = ``settings_version``), plus
    ``name``, ``settings_version`` and ``settings`` (the whole :class:`ProjectSettings`,
    including the time zone, speed-to-lead target and script that the V1 struct has no
    field for). ``new_event`` keeps only the fields the catalogue struct declares, so
    these extra keys travel as soon as the catalogue adds them.
    """
    s = project.settings
    payload = ProjectUpdatedV1(
        project_id=project.id,
        revision=project.settings_version,
        status=project.status,
        kind=project.kind,
        priority=s["priority_weight"],
        calling_window=s["calling_window"],
        retry_policy=s["retry"],
        dispositions=s["dispositions"],
        required_fields=s["required_lead_fields"],
        default_region=s["phone_region"],
        dedupe_window_hours=s["dedupe_window_days"] * 24,
        skills=s["required_skills"],
        currency=currency,
        price_plan=project.price_plan,
    )
    data: dict[str, Any] = msgspec.to_builtins(payload)
    data.update(name=project.name, settings_version=project.settings_version, settings=s)
    return data


def _audit_view(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "kind": project.kind,
        "status": project.status,
        "settings": project.settings,
        "settings_version": project.settings_version,
        "accepted_quote_id": project.accepted_quote_id,
    }


class ProjectService:
    """Stateless: every method takes the session and the caller's context first."""

    # ---------------------------------------------------------------- reads

    async def get(self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID) -> Project:
        """The project, or 404 ``project_not_found`` when missing or not the caller's."""
        project = await repository.get(session, ctx, project_id)
        if project is None:
            raise ProjectNotFound()
        return project

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        params: PageParams,
        tenant_id: uuid.UUID | None = None,
        status: ProjectStatus | None = None,
        kind: ProjectKind | None = None,
    ) -> Page[ProjectOut]:
        rows, cursor = await repository.list_page(
            session,
            ctx,
            params=params,
            tenant_id=tenant_id,
            status=status.value if status else None,
            kind=kind.value if kind else None,
        )
        return Page(items=[to_schema(p, ctx) for p in rows], next_cursor=cursor)

    # ---------------------------------------------------------------- writes

    async def create(self, session: AsyncSession, ctx: Ctx, data: ProjectCreate) -> Project:
        """A draft project with the kind's defaults, overridden by ``data.settings``."""
        tenant = await get_tenant(session, data.tenant_id)
        if tenant is None:
            raise ValidationFailed.one("tenant_id", "unknown_tenant", "no such tenant")
        if tenant.is_closed:
            raise TenantClosed()
        base = default_settings(data.kind, timezone=tenant.timezone)
        settings = parse_settings(merge(base, data.settings))
        project = Project(
            tenant_id=tenant.id,
            name=data.name,
            kind=data.kind.value,
            status=S.DRAFT.value,
            settings=to_data(settings),
            settings_version=1,
            created_by=ctx.actor,
        )
        repository.add(session, project)
        await session.flush()
        self._history(session, ctx, project, None)
        await self._changed(session, ctx, project, "project.created", None, tenant.currency)
        return project

    async def update(
        self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, data: ProjectUpdate
    ) -> Project:
        """Rename and/or change settings (merged into the current ones, validated whole)."""
        project = await self._for_change(session, ctx, project_id)
        before = _audit_view(project)
        changed = False
        if data.name is not None and data.name != project.name:
            project.name = data.name
            changed = True
        if data.settings:
            settings = to_data(parse_settings(merge(project.settings, data.settings)))
            if settings != project.settings:
                project.settings = settings
                changed = True
        if not changed:
            return project
        project.settings_version += 1
        await session.flush()
        await self._changed(session, ctx, project, "project.updated", before)
        return project

    async def pause(
        self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, reason: str | None = None
    ) -> Project:
        return await self._move(session, ctx, project_id, {S.ACTIVE}, S.PAUSED, reason)

    async def resume(
        self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, reason: str | None = None
    ) -> Project:
        return await self._move(session, ctx, project_id, {S.PAUSED}, S.ACTIVE, reason)

    async def close(
        self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, reason: str | None = None
    ) -> Project:
        allowed = {S.DRAFT, S.QUOTED, S.ACTIVE, S.PAUSED}
        return await self._move(session, ctx, project_id, allowed, S.CLOSED, reason)

    async def mark_quoted(self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID) -> Project:
        """A quote for the project was sent: ``draft`` → ``quoted``; other open statuses stay.

        409 ``project_closed`` for a closed project.
        """
        project = await self._for_change(session, ctx, project_id)
        if project.status != S.DRAFT:
            return project
        return await self._set_status(session, ctx, project, S.QUOTED, "quote sent")

    async def apply_price_plan(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project_id: uuid.UUID,
        *,
        quote_id: uuid.UUID,
        plan: dict[str, Any],
    ) -> Project:
        """Fix the accepted quote's price plan; ``draft``/``quoted`` become ``active``.

        Bumps ``settings_version`` and emits ``project.updated``; 409 ``project_closed``
        for a closed project.
        """
        project = await self._for_change(session, ctx, project_id)
        before = _audit_view(project)
        project.price_plan = plan
        project.accepted_quote_id = quote_id
        project.settings_version += 1
        if project.status in (S.DRAFT, S.QUOTED):
            from_status = project.status
            project.status = S.ACTIVE.value
            self._history(session, ctx, project, from_status, reason=f"quote {quote_id}")
        await session.flush()
        await self._changed(session, ctx, project, "project.price_plan_applied", before)
        return project

    # ---------------------------------------------------------------- internals

    async def _for_change(self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID) -> Project:
        project = await repository.get(session, ctx, project_id, for_update=True)
        if project is None:
            raise ProjectNotFound()
        if project.status == S.CLOSED:
            raise ProjectClosed()
        return project

    async def _move(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project_id: uuid.UUID,
        allowed: set[ProjectStatus],
        to: ProjectStatus,
        reason: str | None,
    ) -> Project:
        project = await repository.get(session, ctx, project_id, for_update=True)
        if project is None:
            raise ProjectNotFound()
        if project.status not in allowed:
            raise ProjectTransitionInvalid(
                f"a {project.status} project cannot become {to.value}",
                extra={"status": project.status},
            )
        return await self._set_status(session, ctx, project, to, reason)

    async def _set_status(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project: Project,
        to: ProjectStatus,
        reason: str | None,
    ) -> Project:
        before = _audit_view(project)
        from_status = project.status
        project.status = to.value
        project.settings_version += 1
        self._history(session, ctx, project, from_status, reason=reason)
        await session.flush()
        await self._changed(session, ctx, project, f"project.{to.value}", before)
        return project

    def _history(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project: Project,
        from_status: str | None,
        *,
        reason: str | None = None,
    ) -> None:
        """Record the move to the project's *current* status and version."""
        repository.add_status_change(
            session,
            ProjectStatusChange(
                tenant_id=project.tenant_id,
                project_id=project.id,
                from_status=from_status,
                to_status=project.status,
                settings_version=project.settings_version,
                actor=ctx.actor,
                reason=reason,
            ),
        )

    async def _changed(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project: Project,
        action: str,
        before: dict[str, Any] | None,
        currency: str | None = None,
    ) -> None:
        await session.flush()
        if currency is None:
            tenant = await get_tenant(session, project.tenant_id)
            currency = tenant.currency if tenant else None
        await publish(
            session,
            new_event(
                "project.updated",
                tenant_id=project.tenant_id,
                payload=snapshot(project, currency=currency),
            ),
        )
        await record(
            session,
            ctx,
            action=action,
            entity="project",
            entity_id=project.id,
            tenant_id=project.tenant_id,
            before=before,
            after=_audit_view(project),
        )


projects = ProjectService()
