"""Completing a task, step by step: the holder's check, the disposition's checks, the
next step by the project's retry policy, closing the task, the attempt, and the
``task.completed`` / ``usage.recorded`` events. :meth:`~.service.TaskService.complete`
runs the steps in order."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import ProjectNotFound, TaskNotFound
from services.assignment.mirrors import projects_and_leads as mirrors
from services.assignment.mirrors.projects_and_leads import LeadMirror, ProjectMirror
from services.assignment.operators import repository as operators
from services.assignment.tasks import create, repository, windows
from services.assignment.tasks.lease import not_held
from services.assignment.tasks.models import Attempt, NextStep, Task, TaskStatus
from services.assignment.tasks.scheduling import Plan, local_midnight, plan_next, talk_minutes
from services.assignment.tasks.schemas import Completion, NextTaskView, TaskComplete
from shared.context import Ctx
from shared.errors import FieldError, ValidationFailed
from shared.ids import new_id
from shared.messaging.events import TaskCompletedV1, UsageRecordedV1, new_event
from shared.messaging.outbox import publish


async def locked(
    session: AsyncSession, tenant_id: uuid.UUID, task_id: uuid.UUID
) -> tuple[Task, datetime]:
    """The task, locked, and the database's clock now; 404 if there is none."""
    row = await repository.lock_task(session, tenant_id, task_id)
    if row is None:
        raise TaskNotFound()
    return row


def ensure_held(task: Task, operator_id: uuid.UUID, now: datetime) -> None:
    """The operator holds a live lease on their latest leased task, or 409
    ``lease_lost``."""
    if (
        task.status != TaskStatus.LEASED
        or task.leased_to != operator_id
        or task.lease_expires_at is None
        or task.lease_expires_at <= now
    ):
        not_held()


async def project_of(session: AsyncSession, task: Task) -> ProjectMirror:
    project = await mirrors.get_project(session, task.tenant_id, task.project_id)
    if project is None:
        raise ProjectNotFound("the task's project is not known to assignment yet")
    return project


def check(project: ProjectMirror, task: Task, data: TaskComplete, now: datetime) -> dict[str, Any]:
    """The project's disposition ``data`` names, and every field it requires (422)."""
    disposition = project.disposition(data.disposition)
    if disposition is None:
        codes = ", ".join(str(d.get("code")) for d in project.dispositions)
        raise ValidationFailed.one(
            "disposition", "unknown_disposition", f"not one of this project's: {codes}"
        )
    errors = _required_fields(disposition, data)
    if data.callback_at is not None:
        errors.extend(_callback_errors(project, task, data.callback_at, now))
    if errors:
        raise ValidationFailed(errors)
    return disposition


def _required_fields(disposition: dict[str, Any], data: TaskComplete) -> list[FieldError]:
    errors: list[FieldError] = []
    if disposition.get("requires_callback_at") and data.callback_at is None:
        errors.append(FieldError("callback_at", "required", "this outcome needs a callback time"))
    if disposition.get("requires_amount") and data.deal_amount is None:
        errors.append(FieldError("deal_amount", "required", "this outcome needs a deal amount"))
    if disposition.get("requires_loss_reason") and not data.loss_reason:
        errors.append(FieldError("loss_reason", "required", "this outcome needs a loss reason"))
    return errors


def _callback_errors(
    project: ProjectMirror, task: Task, at: datetime, now: datetime
) -> list[FieldError]:
    if at.tzinfo is None:
        return [FieldError("callback_at", "timezone_required", "give a time with its offset")]
    if at <= now:
        return [FieldError("callback_at", "in_past", "must be in the future")]
    if not windows.is_open(project.calling_window, list(task.zones), at):
        return [
            FieldError(
                "callback_at", "outside_window", "the lead's calling window is closed at that time"
            )
        ]
    return []


async def plan(
    session: AsyncSession,
    task: Task,
    project: ProjectMirror,
    lead: LeadMirror | None,
    disposition: dict[str, Any],
    data: TaskComplete,
    now: datetime,
) -> tuple[Plan, bool]:
    """The next step by the retry policy (counting this attempt), and whether the lead
    was qualified before."""
    zone = (task.zones or [project.timezone])[0]
    total, today, qualified_before = await repository.attempts_of_lead(
        session, task.tenant_id, task.lead_id, local_midnight(now, zone)
    )
    step = plan_next(
        disposition=disposition,
        retry=project.retry,
        project_kind=project.kind,
        attempts_total=total + 1,
        attempts_today=today + 1,
        callback_at=data.callback_at,
        zone=zone,
        now=now,
        reachable=lead is not None and lead.phone_e164 is not None,
    )
    return step, qualified_before


async def close(
    session: AsyncSession,
    ctx: Ctx,
    task: Task,
    operator_id: uuid.UUID,
    disposition: dict[str, Any],
    now: datetime,
) -> None:
    """The task completed, its assignment ended, the operator available again; a
    "do not call" outcome lists the number."""
    task.status = TaskStatus.COMPLETED
    task.completed_by = operator_id
    task.completed_at = now
    task.leased_to = None
    task.lease_expires_at = None
    task.updated_at = now
    await session.flush()
    await repository.end_assignment(session, task.tenant_id, task.id, "completed")
    await operators.transition(
        session, operator_id, "available", reason="task_completed", from_states=["on_task"]
    )
    if disposition.get("stage") == "do_not_call" and task.phone_e164:
        await create.dnc_rules().add(
            session,
            ctx,
            phone=task.phone_e164,
            tenant_id=task.tenant_id,
            reason="asked not to be called",
            source="disposition",
        )


async def follow_up(
    session: AsyncSession,
    task: Task,
    project: ProjectMirror,
    lead: LeadMirror | None,
    next_plan: Plan,
) -> Task | None:
    """The next task the plan asks for (none for an erased or unknown lead)."""
    if next_plan.step is NextStep.NONE or lead is None:
        return None
    assert next_plan.kind is not None
    assert next_plan.due_at is not None
    return await create.create(
        session,
        lead=lead,
        project=project,
        kind=next_plan.kind,
        due_at=next_plan.due_at,
        attempt=task.attempt + 1,
        source_task_id=task.id,
    )


async def record(
    session: AsyncSession,
    task: Task,
    operator_id: uuid.UUID,
    data: TaskComplete,
    disposition: dict[str, Any],
    project: ProjectMirror,
    next_plan: Plan,
    next_task: Task | None,
    now: datetime,
) -> Attempt:
    """The attempt (and the lead's first attempt time)."""
    step = next_plan.step if next_task is not None else NextStep.NONE
    attempt = Attempt(
        tenant_id=task.tenant_id,
        id=new_id(),
        task_id=task.id,
        lead_id=task.lead_id,
        project_id=task.project_id,
        operator_id=operator_id,
        kind=task.kind,
        attempt=task.attempt,
        disposition=data.disposition,
        to_stage=disposition.get("stage"),
        talk_seconds=data.talk_seconds,
        notes=data.notes,
        callback_at=data.callback_at,
        deal_amount=data.deal_amount if disposition.get("requires_amount") else None,
        currency=project.currency,
        loss_reason=data.loss_reason if disposition.get("requires_loss_reason") else None,
        next_step=step.value,
        next_task_id=next_task.id if next_task is not None else None,
        created_at=now,
    )
    session.add(attempt)
    await mirrors.note_first_attempt(session, task.tenant_id, task.lead_id, now)
    await session.flush()
    return attempt


async def emit(
    session: AsyncSession, task: Task, attempt: Attempt, *, qualified_before: bool
) -> None:
    """``task.completed``, and one ``usage.recorded`` per billable quantity."""
    await publish(
        session,
        new_event(
            "task.completed",
            tenant_id=task.tenant_id,
            payload=TaskCompletedV1(
                task_id=task.id,
                lead_id=task.lead_id,
                project_id=task.project_id,
                operator_id=attempt.operator_id,
                kind=task.kind,
                attempt=attempt.attempt,
                disposition=attempt.disposition,
                talk_seconds=attempt.talk_seconds,
                next_step=attempt.next_step,
                to_stage=attempt.to_stage,
                loss_reason=attempt.loss_reason,
                deal_value=attempt.deal_amount,
                currency=attempt.currency,
                callback_at=attempt.callback_at,
                completed_at=attempt.created_at,
            ),
        ),
    )
    for metric, quantity in usage(attempt, qualified_before=qualified_before):
        await publish(
            session,
            new_event(
                "usage.recorded",
                tenant_id=task.tenant_id,
                payload=UsageRecordedV1(
                    usage_id=uuid.uuid5(attempt.id, metric),
                    project_id=task.project_id,
                    metric=metric,
                    quantity=quantity,
                    source_id=attempt.id,
                    recorded_at=attempt.created_at,
                ),
            ),
        )


def usage(attempt: Attempt, *, qualified_before: bool) -> list[tuple[str, Decimal]]:
    """The billable quantities of an attempt: itself, its talk minutes, a lead's first
    qualification, a won deal."""
    out: list[tuple[str, Decimal]] = [("attempt", Decimal(1))]
    if attempt.talk_seconds > 0:
        out.append(("talk_minute", talk_minutes(attempt.talk_seconds)))
    if attempt.to_stage == "qualified" and not qualified_before:
        out.append(("qualified_lead", Decimal(1)))
    if attempt.to_stage == "won":
        out.append(("won_deal", Decimal(1)))
    return out


async def repeat(session: AsyncSession, task: Task) -> Completion:
    """The answer a completion already gave (a repeat by the same operator)."""
    attempt = await repository.attempt_of(session, task.tenant_id, task.id)
    if attempt is None:
        raise TaskNotFound()
    next_task = None
    if attempt.next_task_id is not None:
        next_task = await repository.get_task(session, task.tenant_id, attempt.next_task_id)
    return view(task, attempt, next_task)


def view(task: Task, attempt: Attempt, next_task: Task | None) -> Completion:
    return Completion(
        task_id=task.id,
        attempt_id=attempt.id,
        attempt=attempt.attempt,
        disposition=attempt.disposition,
        to_stage=attempt.to_stage,
        talk_seconds=attempt.talk_seconds,
        next_step=attempt.next_step,
        next_task=(
            NextTaskView(
                id=next_task.id,
                kind=next_task.kind,
                due_at=next_task.due_at,
                attempt=next_task.attempt,
            )
            if next_task is not None
            else None
        ),
        completed_at=attempt.created_at,
    )
