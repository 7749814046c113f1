"""Assignment's copies of other services' facts, kept current by events.

- ``assignment.projects``: each project's operational settings (calling window,
  retry policy, dispositions, skills, priority, speed-to-lead target, script), from
  ``project.updated``; an update older than the held ``revision`` changes nothing.
- ``assignment.leads``: what calling a lead needs (project, E.164 phone, time zones),
  from ``lead.received``; ``lead.erased`` removes the phone.

Operators (from ``user.*``) live in :mod:`services.assignment.operators`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import (
    ARRAY,
    CHAR,
    Index,
    Text,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.assignment.tasks import windows
from shared.db.base import Base
from shared.messaging.events import LeadReceivedV1, ProjectUpdatedV1

SCHEMA = "assignment"
ACTIVE = "active"

DEFAULT_RETRY = {"max_attempts_per_lead": 5, "max_attempts_per_day": 2, "min_spacing_minutes": 120}
DEFAULT_PRIORITY = 10
DEFAULT_SPEED_TO_LEAD = 300


class ProjectMirror(Base):
    __tablename__ = "projects"
    __table_args__ = {"schema": SCHEMA}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revision: Mapped[int]
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(
        default=DEFAULT_PRIORITY, server_default=str(DEFAULT_PRIORITY)
    )
    calling_window: Mapped[dict[str, Any]] = mapped_column(JSONB)
    retry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dispositions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    required_skills: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    speed_to_lead_seconds: Mapped[int] = mapped_column(
        default=DEFAULT_SPEED_TO_LEAD, server_default=str(DEFAULT_SPEED_TO_LEAD)
    )
    script: Mapped[str] = mapped_column(Text, default="", server_default="")
    timezone: Mapped[str] = mapped_column(
        Text, default=windows.DEFAULT_ZONE, server_default=windows.DEFAULT_ZONE
    )
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def offerable(self) -> bool:
        """Tasks of a project are offered only while it is active."""
        return self.status == ACTIVE

    def disposition(self, code: str) -> dict[str, Any] | None:
        return next((d for d in self.dispositions if d.get("code") == code), None)


class LeadMirror(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index(
            "ix_leads_without_task",
            "received_at",
            postgresql_where=text("NOT has_task AND erased_at IS NULL"),
        ),
        Index("ix_leads_project_received", "tenant_id", "project_id", "received_at"),
        {"schema": SCHEMA},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    phone_e164: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(Text)
    zones: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    received_at: Mapped[datetime]
    has_task: Mapped[bool] = mapped_column(default=False, server_default=false())
    first_attempt_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class _Settings(msgspec.Struct, frozen=True):
    """What the mirror reads from the payload's ``settings`` tree (pricing's whole
    ProjectSettings) because :class:`ProjectUpdatedV1` has no flat field for it; other
    keys of the tree are ignored, a key of the wrong type rejects the event."""

    timezone: str = windows.DEFAULT_ZONE
    speed_to_lead_seconds: int = DEFAULT_SPEED_TO_LEAD
    script: str = ""


def project_values(payload: ProjectUpdatedV1) -> dict[str, Any]:
    """The mirror's columns from a ``project.updated`` payload: the window, retry
    policy, dispositions, skills and priority from its flat fields, the time zone,
    speed-to-lead target and script from its ``settings`` tree.

    Raises ``msgspec.ValidationError`` when the tree does not fit (the event is then
    not applied, so it is retried and dead-lettered, never half-read).
    """
    settings = msgspec.convert(payload.settings, _Settings, strict=False)
    return {
        "revision": payload.revision or payload.settings_version,
        "name": payload.name or None,
        "status": payload.status or ACTIVE,
        "kind": payload.kind or None,
        "priority": payload.priority or DEFAULT_PRIORITY,
        "calling_window": payload.calling_window,
        "retry": payload.retry_policy or DEFAULT_RETRY,
        "dispositions": payload.dispositions,
        "required_skills": payload.skills,
        "speed_to_lead_seconds": settings.speed_to_lead_seconds,
        "script": settings.script,
        "timezone": settings.timezone,
        "currency": payload.currency,
    }


async def apply_project(
    session: AsyncSession, tenant_id: uuid.UUID, payload: ProjectUpdatedV1
) -> tuple[ProjectMirror | None, ProjectMirror | None]:
    """Upsert the project if this revision is newer; answers ``(before, after)``.

    ``after`` is ``None`` when the event was older than (or as old as) what is held.
    """
    project_id = payload.project_id
    before = await session.get(
        ProjectMirror, (tenant_id, project_id), with_for_update=True, populate_existing=True
    )
    values = project_values(payload)
    if before is not None and before.revision >= values["revision"]:
        return before, None
    snapshot = None
    if before is not None:
        snapshot = ProjectMirror(
            **{c: getattr(before, c) for c in ("tenant_id", "id", *values)},
        )
    stmt = pg_insert(ProjectMirror).values(tenant_id=tenant_id, id=project_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ProjectMirror.tenant_id, ProjectMirror.id],
        set_={**values, "updated_at": func.now()},
        where=ProjectMirror.revision < stmt.excluded.revision,
    )
    await session.execute(stmt)
    after = await session.get(ProjectMirror, (tenant_id, project_id), populate_existing=True)
    return snapshot, after


async def get_project(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> ProjectMirror | None:
    return await session.get(ProjectMirror, (tenant_id, project_id))


async def get_lead(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID
) -> LeadMirror | None:
    return await session.get(LeadMirror, (tenant_id, lead_id))


async def leads_of_project(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    lead_ids: Collection[uuid.UUID],
) -> dict[uuid.UUID, LeadMirror]:
    """Those of the leads that belong to the project, by id."""
    result = await session.scalars(
        select(LeadMirror).where(
            LeadMirror.tenant_id == tenant_id,
            LeadMirror.project_id == project_id,
            LeadMirror.id.in_(lead_ids),
        )
    )
    return {lead.id: lead for lead in result}


async def find_project(session: AsyncSession, project_id: uuid.UUID) -> ProjectMirror | None:
    """A project by id alone (staff scope sees every tenant's)."""
    result = await session.scalars(select(ProjectMirror).where(ProjectMirror.id == project_id))
    return result.first()


def lead_zones(phone: str | None, declared: str | None, fallback: str | None) -> list[str]:
    return windows.candidate_zones(phone, declared, fallback=fallback or windows.DEFAULT_ZONE)


async def apply_lead_received(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    payload: LeadReceivedV1,
    *,
    occurred_at: datetime,
) -> LeadMirror:
    """Insert the lead (a repeat keeps the first copy); answers the held row.

    The declared time zone counts as certain only when the event says so
    (``timezone_certain: true``); otherwise the zones come from the number, so an
    uncertain lead is called only while the window is open in every zone it may be in.
    """
    lead_id, project_id = payload.lead_id, payload.project_id
    phone = payload.phone or None
    declared = payload.timezone or None
    project = await get_project(session, tenant_id, project_id)
    fallback = declared or (project.timezone if project else None)
    zones = lead_zones(phone, declared if payload.timezone_certain else None, fallback)
    received_at = payload.received_at or occurred_at
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    await session.execute(
        pg_insert(LeadMirror)
        .values(
            tenant_id=tenant_id,
            id=lead_id,
            project_id=project_id,
            phone_e164=phone,
            timezone=declared,
            zones=zones,
            received_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=[LeadMirror.tenant_id, LeadMirror.id])
    )
    lead = await session.get(LeadMirror, (tenant_id, lead_id), populate_existing=True)
    assert lead is not None
    return lead


async def leads_without_task(
    session: AsyncSession, *, older_than: timedelta, limit: int
) -> list[LeadMirror]:
    """Callable leads copied over ``older_than`` ago that still have no task, oldest
    first (locked; those another transaction holds are skipped)."""
    result = await session.scalars(
        select(LeadMirror)
        .where(
            LeadMirror.has_task.is_(False),
            LeadMirror.erased_at.is_(None),
            LeadMirror.received_at < func.now() - older_than,
        )
        .order_by(LeadMirror.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result)


async def erase_lead(session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> bool:
    """Forget the lead's phone (the row stays for speed-to-lead facts)."""
    result = await session.execute(
        update(LeadMirror)
        .where(LeadMirror.tenant_id == tenant_id, LeadMirror.id == lead_id)
        .values(phone_e164=None, timezone=None, erased_at=func.now())
        .returning(LeadMirror.id)
    )
    return result.first() is not None


async def mark_has_task(session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> None:
    await session.execute(
        update(LeadMirror)
        .where(LeadMirror.tenant_id == tenant_id, LeadMirror.id == lead_id)
        .values(has_task=True)
    )


async def note_first_attempt(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, at: datetime
) -> None:
    """The lead's first call attempt (kept once: speed to lead is measured to it)."""
    await session.execute(
        update(LeadMirror)
        .where(LeadMirror.tenant_id == tenant_id, LeadMirror.id == lead_id)
        .values(first_attempt_at=func.coalesce(LeadMirror.first_attempt_at, at))
    )
