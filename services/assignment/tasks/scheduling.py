"""When a task may be offered: its window-derived times, and the retry policy's next step.

Pure functions (no I/O): the calling-window math is :mod:`services.assignment.tasks.windows`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.assignment.tasks import windows
from services.assignment.tasks.models import NextStep
from services.assignment.tasks.routing import CLASS_TIER, TaskKind

KINDS = tuple(k.value for k in TaskKind)


def utcnow() -> datetime:
    return datetime.now(UTC)


def class_rank(kind: str) -> int:
    """The routing tier stored on the task (callbacks 0, new leads 1, the rest 2)."""
    return CLASS_TIER[TaskKind(kind)]


def offer_times(
    window: dict[str, Any] | None, zones: list[str], due_at: datetime, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``(next_allowed_at, window_closes_at)`` for a task due at ``due_at``.

    ``(None, None)`` when there is no window (project unknown or not active);
    ``(None, now + 8 days)`` when the window never opens in every zone within the
    horizon (the reaper looks again then).
    """
    if not window:
        return None, None
    after = max(due_at, now)
    start = windows.next_allowed_at(window, zones, after)
    if start is None:
        return None, after + windows.HORIZON
    return start, windows.window_end(window, zones, start)


@dataclass(frozen=True, slots=True)
class Plan:
    step: NextStep
    kind: str | None = None
    due_at: datetime | None = None
    why: str = ""


def plan_next(
    *,
    disposition: dict[str, Any],
    retry: dict[str, Any],
    project_kind: str | None,
    attempts_total: int,
    attempts_today: int,
    callback_at: datetime | None,
    zone: str,
    now: datetime,
    reachable: bool = True,
) -> Plan:
    """The retry policy: what follows an attempt with this disposition.

    ``attempts_total`` / ``attempts_today`` include the attempt being recorded.
    A final disposition (or an unreachable lead) ends the work; otherwise at most
    ``max_attempts_per_lead`` attempts in all. A callback comes at the agreed time;
    a retry after ``min_spacing_minutes``, and on the lead's next local day once
    ``max_attempts_per_day`` is reached.
    """
    if disposition.get("final") or not reachable:
        return Plan(NextStep.NONE, why="final" if reachable else "unreachable")
    max_total = int(retry.get("max_attempts_per_lead", 5))
    if attempts_total >= max_total:
        return Plan(NextStep.NONE, why="max_attempts_per_lead")
    if disposition.get("requires_callback_at") and callback_at is not None:
        return Plan(NextStep.CALLBACK, TaskKind.CALLBACK.value, callback_at, "callback agreed")
    due = now + timedelta(minutes=int(retry.get("min_spacing_minutes", 120)))
    if attempts_today >= int(retry.get("max_attempts_per_day", 2)):
        due = max(due, next_local_midnight(now, zone))
    if project_kind == "repeat_touch":
        return Plan(NextStep.REPEAT_TOUCH, TaskKind.REPEAT_TOUCH.value, due, "repeat touch")
    return Plan(NextStep.RETRY, TaskKind.RETRY.value, due, "retry")


def local_midnight(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def next_local_midnight(now: datetime, zone: str) -> datetime:
    start = local_midnight(now, zone)
    return (start + timedelta(days=1, hours=3)).replace(hour=0)


def talk_minutes(talk_seconds: int) -> Decimal:
    """Billable talk minutes of one call: whole minutes, any started minute counts."""
    return Decimal(math.ceil(talk_seconds / 60))
