"""The supervision wire contract."""

from __future__ import annotations

import uuid

import msgspec


class QueueStats(msgspec.Struct):
    """One project's queue now, and its speed to lead today (since midnight UTC)."""

    tenant_id: uuid.UUID
    project_id: uuid.UUID
    name: str | None
    status: str
    waiting_now: int
    """Tasks offerable now (due, inside the calling window)."""
    due_later: int
    """Queued tasks not offerable yet (later due time, or window closed)."""
    oldest_waiting_seconds: float | None
    """How long the task waiting longest has been offerable."""
    in_progress: int
    operators_available: int
    """Active operators who may work this project and are available now."""
    operators_on_task: int
    speed_to_lead_target_seconds: int
    new_leads_today: int
    speed_to_lead_p50_seconds: float | None
    """Lead received → first attempt, median over today's leads already called."""
    speed_to_lead_p90_seconds: float | None
    service_level: float | None
    """Share of today's new leads first called within the target; leads not called yet
    count once their target has passed (and are left out before)."""
