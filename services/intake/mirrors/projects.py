"""Intake's mirror of projects (``intake.projects``), filled by ``project.updated``.

Intake keeps only what it follows: the status and the lead settings (phone region,
time zone, required fields, dedupe window, whether consent is required), in the
plain dict shape :func:`services.intake.leads.normalise.normalise` takes. An update
is applied only when its ``revision`` is newer than the held ``settings_version``,
so a late or repeated event changes nothing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.mirrors import repository
from shared.db.base import Base
from shared.messaging.events import ProjectUpdatedV1

CACHE_SECONDS = 2.0
DEFAULT_SETTINGS: dict[str, Any] = {
    "phone_region": "RU",
    "timezone": "Europe/Moscow",
    "required_lead_fields": ["phone"],
    "dedupe_window_hours": 30 * 24,
    "require_consent": False,
    "currency": "RUB",
}


class ProjectMirror(Base):
    __tablename__ = "projects"
    __table_args__ = {"schema": "intake"}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    settings_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    status: str
    settings: dict[str, Any]


def lead_settings(payload: ProjectUpdatedV1) -> dict[str, Any]:
    """The lead settings in a ``project.updated`` payload (missing ones take defaults).

    The payload's ``settings`` is the project's whole settings tree; intake keeps the
    part it follows. Payloads of older producers carried only flat fields (an empty
    ``required_fields`` is what the payload holds when it names none).
    """
    out = dict(DEFAULT_SETTINGS)
    if payload.currency:
        out["currency"] = payload.currency  # the tenant's: deals default to it
    tree = payload.settings
    if tree:
        out["phone_region"] = str(tree.get("phone_region") or out["phone_region"])
        out["timezone"] = str(tree.get("timezone") or out["timezone"])
        if tree.get("required_lead_fields") is not None:
            out["required_lead_fields"] = [str(f) for f in tree["required_lead_fields"]]
        if tree.get("dedupe_window_days") is not None:
            out["dedupe_window_hours"] = int(tree["dedupe_window_days"]) * 24
        out["require_consent"] = bool(tree.get("require_consent", False))
        return out
    if payload.default_region:
        out["phone_region"] = payload.default_region
    if payload.required_fields:
        out["required_lead_fields"] = list(payload.required_fields)
    if payload.dedupe_window_hours is not None:
        out["dedupe_window_hours"] = payload.dedupe_window_hours
    return out


_cache: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, ProjectFacts | None]] = {}
_refreshing: set[tuple[uuid.UUID, uuid.UUID]] = set()
"""Projects one request is re-reading now; the others meanwhile take the expired
facts (one read per project per :data:`CACHE_SECONDS` per process, not a stampede)."""


def forget_project(key: tuple[uuid.UUID, uuid.UUID] | None = None) -> None:
    if key is None:
        _cache.clear()
    else:
        _cache.pop(key, None)


async def apply_project_update(
    session: AsyncSession, tenant_id: uuid.UUID, payload: ProjectUpdatedV1
) -> None:
    """Upsert the project from a ``project.updated`` payload unless a newer one is held."""
    await repository.upsert_project(
        session,
        tenant_id,
        payload.project_id,
        status=payload.status or "draft",
        settings_json=msgspec.json.encode(lead_settings(payload)).decode(),
        version=payload.revision,
    )
    forget_project((tenant_id, payload.project_id))


async def project_facts(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> ProjectFacts | None:
    """Status and settings of the tenant's project (cached for a couple of seconds)."""
    key = (tenant_id, project_id)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and (cached[0] > now or key in _refreshing):
        return cached[1]
    _refreshing.add(key)
    try:
        row = await repository.project_row(session, tenant_id, project_id)
    finally:
        _refreshing.discard(key)
    facts = None if row is None else ProjectFacts(row.status, dict(row.settings))
    _cache[key] = (time.monotonic() + CACHE_SECONDS, facts)
    return facts
