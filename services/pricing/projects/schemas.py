"""Wire contract of projects: what the API reads and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from services.pricing.projects.settings import ProjectKind, ProjectSettings, ProjectStatus

ProjectName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
SETTINGS_DOC = (
    "Overrides of the kind's default settings, merged deeply (objects merge; lists, scalars "
    "and null replace) and then validated as a whole; see the `ProjectSettings` schema of "
    "the `Project` answer for every field."
)


class ProjectCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tenant_id: uuid.UUID
    name: ProjectName
    kind: ProjectKind
    settings: Annotated[dict[str, Any], msgspec.Meta(description=SETTINGS_DOC)] = msgspec.field(
        default_factory=dict
    )


class ProjectUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ProjectName | None = None
    settings: Annotated[dict[str, Any] | None, msgspec.Meta(description=SETTINGS_DOC)] = None


class ProjectStatusChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Optional body of pause / resume / close."""

    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class Project(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    kind: ProjectKind
    status: ProjectStatus
    settings: ProjectSettings
    settings_version: int
    """Grows by one with every change; ``project.updated`` carries it as ``revision``."""
    price_plan: dict[str, Any] | None
    """The plan fixed by the accepted quote (``null`` until one is accepted)."""
    accepted_quote_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
