"""The tasks' wire contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from shared.http.fields import Amount

Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class LeadView(msgspec.Struct):
    id: uuid.UUID
    phone: str | None
    timezones: list[str]
    received_at: datetime


class DispositionView(msgspec.Struct):
    code: str
    label: str
    stage: str
    final: bool = False
    requires_loss_reason: bool = False
    requires_amount: bool = False
    requires_callback_at: bool = False


class ProjectView(msgspec.Struct):
    id: uuid.UUID
    name: str | None
    script: str
    dispositions: list[DispositionView]
    calling_window: dict[str, Any]
    currency: str | None = None


class LeasedTask(msgspec.Struct):
    """What ``next-task`` answers: the task, what calling needs of its lead, the project."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    attempt: int
    due_at: datetime
    lease_expires_at: datetime
    reason: str
    lead: LeadView
    project: ProjectView
    note: str | None = None


class Heartbeat(msgspec.Struct):
    id: uuid.UUID
    lease_expires_at: datetime


class TaskComplete(msgspec.Struct, forbid_unknown_fields=True):
    disposition: Code
    talk_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 0
    notes: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    callback_at: datetime | None = None
    deal_amount: Amount | None = None
    """Deal value in minor units of the project's currency."""
    loss_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None


class NextTaskView(msgspec.Struct):
    id: uuid.UUID
    kind: str
    due_at: datetime
    attempt: int


class Completion(msgspec.Struct):
    """The recorded attempt and the next step the retry policy chose."""

    task_id: uuid.UUID
    attempt_id: uuid.UUID
    attempt: int
    disposition: str
    to_stage: str | None
    talk_seconds: int
    next_step: str
    next_task: NextTaskView | None
    completed_at: datetime


class BulkTasks(msgspec.Struct, forbid_unknown_fields=True):
    project_id: uuid.UUID
    lead_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=1000)]
    due_at: datetime | None = None
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class BulkOutcome(msgspec.Struct):
    lead_id: uuid.UUID
    outcome: str
    """``created``, ``not_found``, ``erased``, ``do_not_call`` or ``duplicate``."""
    task_id: uuid.UUID | None = None


class BulkResult(msgspec.Struct):
    created: int
    skipped: int
    items: list[BulkOutcome]
