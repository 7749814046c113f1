"""Tasks: create, cancel, reschedule, claim (next task), lease, heartbeat, complete, bulk.

Stateless; methods take the session (and the caller's context) first, ``flush()``
and never ``commit()`` — except :meth:`TaskService.next_task`, which long-polls and
so opens one short transaction per try, holding no connection while it waits.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import event, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.assignment import routing, windows
from services.assignment.errors import (
    LeaseLost,
    OperatorNotFound,
    OperatorUnavailable,
    ProjectNotFound,
    TaskNotFound,
)
from services.assignment.mirrors import LeadMirror, ProjectMirror, find_project, get_project
from services.assignment.operators import repository as operators
from services.assignment.tasks import ready, repository
from services.assignment.tasks.models import Attempt, NextStep, Task, TaskStatus
from services.assignment.tasks.scheduling import (
    class_rank,
    local_midnight,
    offer_times,
    plan_next,
    talk_minutes,
)
from services.assignment.tasks.schemas import (
    BulkOutcome,
    BulkResult,
    BulkTasks,
    Completion,
    DispositionView,
    Heartbeat,
    LeadView,
    LeasedTask,
    NextTaskView,
    ProjectView,
    TaskComplete,
)
from shared.context import Ctx
from shared.db.session import STAFF, session_scope
from shared.errors import FieldError, ValidationFailed
from shared.ids import new_id
from shared.messaging.events import TaskCompletedV1, UsageRecordedV1, new_event
from shared.messaging.outbox import publish

DEFAULT_LEASE_SECONDS = 600.0
READY_KEY = "assignment.ready"
"""``session.info`` key: this transaction made work ready (wake waiters after commit)."""

PROJECT_CACHE_SECONDS = 2.0
MAX_PICKS = 8
PICK_TENANTS = 8
"""Queues one claim tries before answering "nothing" (each try is one statement)."""


@dataclass(frozen=True, slots=True)
class _Facts:
    """What this process last saw of an operator's routing facts (re-checked in SQL)."""

    skills: frozenset[str]
    projects: frozenset[uuid.UUID]


def _fair_subset(heads: list[ready.Head], fairness: routing.FairnessState) -> list[Any]:
    """The candidates handed to ``routing.pick``: the heads of the tenants at the lowest
    fairness pass (the policy serves the lowest pass first, so no other tenant can win),
    at most :data:`PICK_TENANTS` of them — those whose most urgent head has waited
    longest. This keeps a pick's cost independent of how many tenants are waiting."""
    by_tenant: dict[uuid.UUID, tuple[float, datetime]] = {}
    for h in heads:
        c = h.candidate
        waited = c.received_at if c.kind == routing.TaskKind.FIRST_CALL else c.due_at
        held = by_tenant.get(c.tenant_id)
        if held is None:
            by_tenant[c.tenant_id] = (fairness.pass_of(c.tenant_id), waited)
        elif waited < held[1]:
            by_tenant[c.tenant_id] = (held[0], waited)
    if len(by_tenant) <= PICK_TENANTS:
        return [h.candidate for h in heads]
    lowest = min(p for p, _ in by_tenant.values())
    tied = sorted((w, t) for t, (p, w) in by_tenant.items() if p <= lowest)
    chosen = {t for _, t in tied[:PICK_TENANTS]}
    return [h.candidate for h in heads if h.candidate.tenant_id in chosen]


def _may_take(facts: _Facts, skills: frozenset[str], project_id: uuid.UUID) -> bool:
    return skills <= facts.skills and (not facts.projects or project_id in facts.projects)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(READY_KEY, None):
        ready.mark_dirty()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(READY_KEY, None)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _dnc() -> Any:
    from services.assignment.dnc.service import dnc

    return dnc


class TaskService:
    """The rules of tasks; ``tasks = TaskService()``."""

    def __init__(self, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self._projects: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, ProjectView]] = {}
        self._facts: dict[uuid.UUID, _Facts] = {}

    # ------------------------------------------------------------------ creating

    async def create(
        self,
        session: AsyncSession,
        *,
        lead: LeadMirror,
        project: ProjectMirror | None,
        kind: str,
        due_at: datetime,
        attempt: int = 1,
        source_task_id: uuid.UUID | None = None,
        note: str | None = None,
    ) -> Task:
        """A queued task for ``lead``, its offer times precomputed from the window."""
        now = _utcnow()
        window = project.calling_window if project is not None and project.offerable else None
        start, closes = offer_times(window, lead.zones, due_at, now)
        task = Task(
            tenant_id=lead.tenant_id,
            id=new_id(),
            project_id=lead.project_id,
            lead_id=lead.id,
            kind=kind,
            class_rank=class_rank(kind),
            status=TaskStatus.QUEUED,
            phone_e164=lead.phone_e164,
            zones=list(lead.zones),
            priority=project.priority if project is not None else 10,
            attempt=attempt,
            received_at=lead.received_at,
            due_at=due_at,
            next_allowed_at=start,
            window_closes_at=closes,
            lease_count=0,
            source_task_id=source_task_id,
            note=note,
        )
        session.add(task)
        await session.flush()
        await self._mark_lead(session, lead)
        if start is not None and start <= now:
            await self._made_ready(session, {lead.tenant_id})
        return task

    async def create_first_call(
        self, session: AsyncSession, lead: LeadMirror, project: ProjectMirror | None
    ) -> uuid.UUID | None:
        """The lead's one first-call task (a repeat creates nothing); ``None`` when the
        number is on a do-not-call list or the lead was erased."""
        if lead.phone_e164 is None or lead.erased_at is not None:
            await self._mark_lead(session, lead)
            return None
        if await _dnc().is_listed(session, lead.tenant_id, lead.phone_e164):
            await self._mark_lead(session, lead)
            return None
        now = _utcnow()
        window = project.calling_window if project is not None and project.offerable else None
        start, closes = offer_times(window, lead.zones, lead.received_at, now)
        task_id = new_id()
        inserted = await session.scalar(
            pg_insert(Task)
            .values(
                tenant_id=lead.tenant_id,
                id=task_id,
                project_id=lead.project_id,
                lead_id=lead.id,
                kind=routing.TaskKind.FIRST_CALL.value,
                class_rank=class_rank(routing.TaskKind.FIRST_CALL.value),
                status=TaskStatus.QUEUED.value,
                phone_e164=lead.phone_e164,
                zones=list(lead.zones),
                priority=project.priority if project is not None else 10,
                attempt=1,
                received_at=lead.received_at,
                due_at=lead.received_at,
                next_allowed_at=start,
                window_closes_at=closes,
            )
            .on_conflict_do_nothing(
                index_elements=[Task.tenant_id, Task.lead_id],
                index_where=text("kind = 'first_call'"),
            )
            .returning(Task.id)
        )
        await self._mark_lead(session, lead)
        if inserted is not None and start is not None and start <= now:
            await self._made_ready(session, {lead.tenant_id})
        return inserted

    async def _mark_lead(self, session: AsyncSession, lead: LeadMirror) -> None:
        if not lead.has_task:
            await session.execute(
                update(LeadMirror)
                .where(LeadMirror.tenant_id == lead.tenant_id, LeadMirror.id == lead.id)
                .values(has_task=True)
            )
            lead.has_task = True

    async def _made_ready(self, session: AsyncSession, tenant_ids: set[uuid.UUID]) -> None:
        session.info[READY_KEY] = True
        await repository.notify_ready(session, tenant_ids)

    # ------------------------------------------------------------------ cancelling

    async def cancel_for_phone(
        self, session: AsyncSession, tenant_id: uuid.UUID | None, phone_e164: str, reason: str
    ) -> int:
        """Cancel every pending (queued or leased) task of the number — in one tenant,
        or in all tenants when ``tenant_id`` is ``None`` (a global DNC entry). Answers
        how many; an operator holding one of them is available again."""
        rows = await repository.cancel_pending(
            session, tenant_id=tenant_id, phone_e164=phone_e164, reason=reason
        )
        await self._release_operators(session, rows)
        return len(rows)

    async def cancel_for_lead(
        self, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, reason: str
    ) -> int:
        rows = await repository.cancel_pending(
            session, tenant_id=tenant_id, lead_id=lead_id, reason=reason
        )
        await self._release_operators(session, rows)
        return len(rows)

    async def _release_operators(self, session: AsyncSession, rows: list[Any]) -> None:
        ops = {op for row in rows for op in (row.ops or ()) if op is not None}
        for operator_id in ops:
            await operators.transition(
                session, operator_id, "available", reason="task_cancelled", from_states=["on_task"]
            )

    # ------------------------------------------------------------------ rescheduling

    async def reschedule(self, session: AsyncSession, rows: list[Any]) -> int:
        """Recompute the offer times of queued tasks (``tenant_id, id, project_id, zones,
        due_at`` rows) from their project's current window."""
        if not rows:
            return 0
        now = _utcnow()
        projects: dict[tuple[uuid.UUID, uuid.UUID], ProjectMirror | None] = {}
        ids, tenants, starts, closes, priorities = [], [], [], [], []
        ready_tenants: set[uuid.UUID] = set()
        for row in rows:
            key = (row.tenant_id, row.project_id)
            if key not in projects:
                projects[key] = await get_project(session, *key)
            project = projects[key]
            window = project.calling_window if project is not None and project.offerable else None
            start, close = offer_times(window, list(row.zones), row.due_at, now)
            ids.append(row.id)
            tenants.append(row.tenant_id)
            starts.append(start)
            closes.append(close)
            priorities.append(project.priority if project is not None else 10)
            if start is not None and start <= now:
                ready_tenants.add(row.tenant_id)
        await session.execute(
            text(
                """
                UPDATE assignment.tasks t
                   SET next_allowed_at = v.start, window_closes_at = v.closes,
                       priority = v.priority, updated_at = now()
                  FROM unnest(CAST(:tenants AS uuid[]), CAST(:ids AS uuid[]),
                              CAST(:starts AS timestamptz[]), CAST(:closes AS timestamptz[]),
                              CAST(:priorities AS int[]))
                       AS v(tenant_id, id, start, closes, priority)
                 WHERE t.tenant_id = v.tenant_id AND t.id = v.id AND t.status = 'queued'
                """
            ),
            {
                "tenants": tenants,
                "ids": ids,
                "starts": starts,
                "closes": closes,
                "priorities": priorities,
            },
        )
        if ready_tenants:
            await self._made_ready(session, ready_tenants)
        return len(rows)

    async def reschedule_project(self, session: AsyncSession, project: ProjectMirror) -> int:
        """After the project's window, status or priority changed."""
        result = await session.execute(
            text(
                "SELECT tenant_id, id, project_id, zones, due_at FROM assignment.tasks "
                "WHERE tenant_id = :t AND project_id = :p AND status = 'queued'"
            ),
            {"t": project.tenant_id, "p": project.id},
        )
        rows = list(result)
        done = 0
        for i in range(0, len(rows), 1000):
            done += await self.reschedule(session, rows[i : i + 1000])
        return done

    async def roll_windows(self, session: AsyncSession, limit: int = 5000) -> int:
        """Queued tasks whose window closed: on to their next window."""
        result = await session.execute(
            text(
                "SELECT tenant_id, id, project_id, zones, due_at FROM assignment.tasks "
                "WHERE status = 'queued' AND window_closes_at <= now() "
                "ORDER BY window_closes_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"limit": limit},
        )
        return await self.reschedule(session, list(result))

    # ------------------------------------------------------------------ claiming

    async def next_task(self, operator_id: uuid.UUID, *, wait: float) -> LeasedTask | None:
        """A task leased to the operator, waiting up to ``wait`` seconds for one."""
        deadline = time.monotonic() + max(0.0, wait)
        signal = ready.signal()
        while True:
            leased = await self.claim_once(operator_id)
            if leased is not None:
                return leased
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await signal.wait(remaining)

    async def claim_once(self, operator_id: uuid.UUID) -> LeasedTask | None:
        """One try: a new lease, the task the operator already holds, or ``None``.

        The hot path is one statement (:func:`repository.lease_head`) in one short
        transaction: ``routing.pick`` chooses among the process's cached queue heads,
        filtered by what this process last saw of the operator's skills and projects;
        the statement re-checks them against the row and leases.
        """
        heads = ready.heads()
        current = await heads.current()  # before our session: a refresh needs a connection
        async with session_scope(STAFF) as session:
            facts = self._facts.get(operator_id)
            tried: set[int] = set()
            for _ in range(MAX_PICKS):
                eligible = [
                    h
                    for h in current
                    if id(h) not in tried
                    and (facts is None or _may_take(facts, h.skills, h.candidate.project_id))
                ]
                if not eligible:
                    break
                try:
                    chosen, reason = routing.pick(
                        _fair_subset(eligible, heads.fairness), heads.fairness, _utcnow()
                    )
                except ValueError:
                    break
                head = next(h for h in eligible if h.candidate is chosen)
                row = await repository.lease_head(
                    session,
                    tenant_id=chosen.tenant_id,
                    project_id=chosen.project_id,
                    tier=head.tier,
                    skills=sorted(head.skills),
                    operator_id=operator_id,
                    lease_seconds=self.lease_seconds,
                    assignment_id=new_id(),
                    reason=reason,
                )
                if row is None:
                    raise OperatorNotFound("no operator profile for this user")
                facts = self._remember(operator_id, row)
                if row.id is not None:
                    return await self._leased_view(session, row, reason=reason)
                if row.operator_status != "active" or row.operator_state != "available":
                    return await self._not_available(session, operator_id, row.operator_state)
                if row.eligible:  # the queue had nothing ready and unlocked
                    heads.drop(head)
                tried.add(id(head))
            me = await operators.touch(session, operator_id)
            if me is None:
                raise OperatorNotFound("no operator profile for this user")
            if me.status != "active" or me.state != "available":
                return await self._not_available(session, operator_id, me.state)
        return None

    async def _not_available(
        self, session: AsyncSession, operator_id: uuid.UUID, state: str
    ) -> LeasedTask | None:
        """The operator holds a task (answer it again), or is offline / on a break."""
        if state == "on_task":
            held = await repository.held_by(session, operator_id)
            if held is not None:
                return await self._leased_view(session, held, reason=None)
            await operators.transition(
                session, operator_id, "available", reason="lease_gone", from_states=["on_task"]
            )
            return None
        raise OperatorUnavailable(f"you are {state}; set your state to available")

    def _remember(self, operator_id: uuid.UUID, row: Any) -> _Facts:
        facts = _Facts(
            skills=frozenset(row.operator_skills or ()),
            projects=frozenset(row.operator_projects or ()),
        )
        if len(self._facts) > 100_000:
            self._facts.clear()
        self._facts[operator_id] = facts
        return facts

    async def _project_view(
        self, session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
    ) -> ProjectView:
        key = (tenant_id, project_id)
        cached = self._projects.get(key)
        if cached is not None and time.monotonic() - cached[0] < PROJECT_CACHE_SECONDS:
            return cached[1]
        project = await get_project(session, tenant_id, project_id)
        if project is None:
            view = ProjectView(
                id=project_id, name=None, script="", dispositions=[], calling_window={}
            )
        else:
            view = ProjectView(
                id=project.id,
                name=project.name,
                script=project.script,
                dispositions=[
                    msgspec.convert(d, DispositionView, strict=False) for d in project.dispositions
                ],
                calling_window=project.calling_window,
                currency=project.currency,
            )
        self._projects[key] = (time.monotonic(), view)
        return view

    async def _leased_view(self, session: AsyncSession, row: Any, reason: str | None) -> LeasedTask:
        if reason is None:
            reason = await session.scalar(
                text(
                    "SELECT reason FROM assignment.assignments WHERE tenant_id = :t "
                    "AND task_id = :id ORDER BY assigned_at DESC LIMIT 1"
                ),
                {"t": row.tenant_id, "id": row.id},
            )
        return LeasedTask(
            id=row.id,
            tenant_id=row.tenant_id,
            kind=row.kind,
            attempt=row.attempt,
            due_at=row.due_at,
            lease_expires_at=row.lease_expires_at,
            reason=reason or "",
            note=row.note,
            lead=LeadView(
                id=row.lead_id,
                phone=row.phone_e164,
                timezones=list(row.zones),
                received_at=row.received_at,
            ),
            project=await self._project_view(session, row.tenant_id, row.project_id),
        )

    # ------------------------------------------------------------------ lease

    async def heartbeat(self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID) -> Heartbeat:
        """Renew the caller's live lease; 409 ``lease_lost`` if it lapsed, 404 if never theirs."""
        operator_id = _operator(ctx)
        # The task row first, then the operator's: the order complete and the reaper
        # lock them in, so no two of them can deadlock.
        expires = await repository.renew_lease(session, task_id, operator_id, self.lease_seconds)
        await operators.touch(session, operator_id)
        if expires is None:
            await self._not_held(session, task_id, operator_id)
        assert expires is not None
        return Heartbeat(id=task_id, lease_expires_at=expires)

    async def _not_held(
        self, session: AsyncSession, task_id: uuid.UUID, operator_id: uuid.UUID
    ) -> None:
        if await repository.ever_assigned(session, task_id, operator_id):
            raise LeaseLost("your lease on this task expired; it went back to the queue")
        raise TaskNotFound()

    # ------------------------------------------------------------------ completing

    async def complete(
        self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID, data: TaskComplete
    ) -> Completion:
        """Record the attempt, schedule the next task by the retry policy, emit events.

        A repeat by the operator who completed it answers the same result and emits
        nothing; another operator's task is a 404.
        """
        operator_id = _operator(ctx)
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
            await self._not_held(session, task_id, operator_id)
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
            await _dnc().add(
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

    # ------------------------------------------------------------------ bulk

    async def bulk(self, session: AsyncSession, ctx: Ctx, data: BulkTasks) -> BulkResult:
        """Follow-up tasks for leads of one project (after an event); per-lead outcome."""
        project = await find_project(session, data.project_id)
        if project is None:
            raise ProjectNotFound()
        due_at = data.due_at or _utcnow()
        if due_at.tzinfo is None:
            raise ValidationFailed.one("due_at", "timezone_required", "give a time with its offset")
        lead_ids = list(dict.fromkeys(data.lead_ids))
        leads = {
            lead.id: lead
            for lead in await session.scalars(
                select(LeadMirror).where(
                    LeadMirror.tenant_id == project.tenant_id,
                    LeadMirror.project_id == project.id,
                    LeadMirror.id.in_(lead_ids),
                )
            )
        }
        pending = set(
            await session.scalars(
                select(Task.lead_id).where(
                    Task.tenant_id == project.tenant_id,
                    Task.lead_id.in_(lead_ids),
                    Task.status.in_(repository.PENDING),
                )
            )
        )
        counted = await session.execute(
            select(Attempt.lead_id, func.count())
            .where(Attempt.tenant_id == project.tenant_id, Attempt.lead_id.in_(lead_ids))
            .group_by(Attempt.lead_id)
        )
        counts = {row[0]: int(row[1]) for row in counted}
        items: list[BulkOutcome] = []
        dnc = _dnc()
        for lead_id in lead_ids:
            lead = leads.get(lead_id)
            if lead is None:
                items.append(BulkOutcome(lead_id=lead_id, outcome="not_found"))
            elif lead.erased_at is not None or lead.phone_e164 is None:
                items.append(BulkOutcome(lead_id=lead_id, outcome="erased"))
            elif await dnc.is_listed(session, lead.tenant_id, lead.phone_e164):
                items.append(BulkOutcome(lead_id=lead_id, outcome="do_not_call"))
            elif lead_id in pending:
                items.append(BulkOutcome(lead_id=lead_id, outcome="pending_task"))
            else:
                task = await self.create(
                    session,
                    lead=lead,
                    project=project,
                    kind=routing.TaskKind.FOLLOW_UP.value,
                    due_at=due_at,
                    attempt=int(counts.get(lead_id, 0)) + 1,
                    note=data.note,
                )
                items.append(BulkOutcome(lead_id=lead_id, outcome="created", task_id=task.id))
        created = sum(1 for i in items if i.outcome == "created")
        return BulkResult(created=created, skipped=len(items) - created, items=items)


def _operator(ctx: Ctx) -> uuid.UUID:
    if ctx.principal_id is None:
        raise OperatorNotFound()
    return ctx.principal_id


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


tasks = TaskService()
