"""Completing a task: the disposition's checks, the attempt, the next task by the
project's retry policy, and the ``task.completed`` / ``usage.recorded`` events."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import ProjectNotFound, TaskNotFound
from services.assignment.mirrors.projects_and_leads import LeadMirror, ProjectMirror, get_project
from services.assignment.operators import repository as operators
from services.assignment.tasks import repository, windows
from services.assignment.tasks.claim import not_held, operator_of
from services.assignment.tasks.create import CreateMixin
from services.assignment.tasks.models import Attempt, NextStep, Task, TaskStatus
from services.assignment.tasks.scheduling import local_midnight, plan_next, talk_minutes
from services.assignment.tasks.schemas import Completion, NextTaskView, TaskComplete
from shared.context import Ctx
from shared.errors import FieldError, ValidationFailed
from shared.ids import new_id
from shared.messaging.events import TaskCompletedV1, UsageRecordedV1, new_event
from shared.messaging.outbox import publish


def dnc_rules() -> Any:
    """The do-not-call service (imported late: it imports this package)."""
    from services.assignment.dnc.service import dnc

    return dnc


class CompleteMixin(CreateMixin):
    """Completion (part of :class:`~.service.TaskService`); a completion creates the next
    task by the retry policy."""

    async def complete(
        self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID, data: TaskComplete
    ) -> Completion:
        """Record the attempt, schedule the next task by the retry policy, emit events.

        A repeat by the operator who completed it answers the same result and emits
        nothing; another operator's task is a 404.
        """
        operator_id = operator_of(ctx)
        row = (
            await session.execute(
                select(Task, func.clock_timestamp())
                .where(Task.id == task_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            raise TaskNotFound()
        task, now = row
        if task.status == TaskStatus.COMPLETED and task.completed_by == operator_id:
            return await self._completion(session, task)
        if (
            task.status != TaskStatus.LEASED
            or task.leased_to != operator_id
            or task.lease_expires_at is None
            or task.lease_expires_at <= now
        ):
            await not_held(session, task_id, operator_id)
        project = await get_project(session, task.tenant_id, task.project_id)
        if project is None:
            raise ProjectNotFound("the task's project is not known to assignment yet")
        disposition = self._check(project, task, data, now)
        lead = await session.get(LeadMirror, (task.tenant_id, task.lead_id))
        zone = (task.zones or [project.timezone])[0]
        total, today, qualified_before = await repository.attempts_of_lead(
            session, task.tenant_id, task.lead_id, local_midnight(now, zone)
        )
        plan = plan_next(
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
        to_stage = disposition.get("stage")
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
        if to_stage == "do_not_call" and task.phone_e164:
            await dnc_rules().add(
                session,
                ctx,
                phone=task.phone_e164,
                tenant_id=task.tenant_id,
                reason="asked not to be called",
                source="disposition",
            )
        next_task: Task | None = None
        if plan.step is not NextStep.NONE and lead is not None:
            assert plan.kind is not None
            assert plan.due_at is not None
            next_task = await self.create(
                session,
                lead=lead,
                project=project,
                kind=plan.kind,
                due_at=plan.due_at,
                attempt=task.attempt + 1,
                source_task_id=task.id,
            )
        step = plan.step if next_task is not None else NextStep.NONE
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
            to_stage=to_stage,
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
        await session.execute(
            update(LeadMirror)
            .where(LeadMirror.tenant_id == task.tenant_id, LeadMirror.id == task.lead_id)
            .values(first_attempt_at=func.coalesce(LeadMirror.first_attempt_at, now))
        )
        await session.flush()
        await self._emit(session, task, attempt, qualified_before=qualified_before)
        return _completion_view(task, attempt, next_task)

    def _check(
        self, project: ProjectMirror, task: Task, data: TaskComplete, now: datetime
    ) -> dict[str, Any]:
        disposition = project.disposition(data.disposition)
        if disposition is None:
            codes = ", ".join(str(d.get("code")) for d in project.dispositions)
            raise ValidationFailed.one(
                "disposition", "unknown_disposition", f"not one of this project's: {codes}"
            )
        errors: list[FieldError] = []
        if disposition.get("requires_callback_at") and data.callback_at is None:
            errors.append(
                FieldError("callback_at", "required", "this outcome needs a callback time")
            )
        if disposition.get("requires_amount") and data.deal_amount is None:
            errors.append(FieldError("deal_amount", "required", "this outcome needs a deal amount"))
        if disposition.get("requires_loss_reason") and not data.loss_reason:
            errors.append(FieldError("loss_reason", "required", "this outcome needs a loss reason"))
        if data.callback_at is not None:
            at = data.callback_at
            if at.tzinfo is None:
                errors.append(
                    FieldError("callback_at", "timezone_required", "give a time with its offset")
                )
            elif at <= now:
                errors.append(FieldError("callback_at", "in_past", "must be in the future"))
            elif not windows.is_open(project.calling_window, list(task.zones), at):
                errors.append(
                    FieldError(
                        "callback_at",
                        "outside_window",
                        "the lead's calling window is closed at that time",
                    )
                )
        if errors:
            raise ValidationFailed(errors)
        return disposition

    async def _emit(
        self, session: AsyncSession, task: Task, attempt: Attempt, *, qualified_before: bool
    ) -> None:
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
        usage: list[tuple[str, Decimal]] = [("attempt", Decimal(1))]
        if attempt.talk_seconds > 0:
            usage.append(("talk_minute", talk_minutes(attempt.talk_seconds)))
        if attempt.to_stage == "qualified" and not qualified_before:
            usage.append(("qualified_lead", Decimal(1)))
        if attempt.to_stage == "won":
            usage.append(("won_deal", Decimal(1)))
        for metric, quantity in usage:
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

    async def _completion(self, session: AsyncSession, task: Task) -> Completion:
        attempt = await session.scalar(
            select(Attempt).where(Attempt.tenant_id == task.tenant_id, Attempt.task_id == task.id)
        )
        if attempt is None:
            raise TaskNotFound()
        next_task = None
        if attempt.next_task_id is not None:
            next_task = await session.get(Task, (task.tenant_id, attempt.next_task_id))
        return _completion_view(task, attempt, next_task)


def _completion_view(task: Task, attempt: Attempt, next_task: Task | None) -> Completion:
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
