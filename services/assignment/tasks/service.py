"""Tasks: the rules of :data:`tasks`, the one :class:`TaskService` — first calls,
claims, leases, completion, cancel, reschedule, bulk follow-ups.

The service is stateless but for its :class:`~.claims.ClaimEngine` (the fast claim
machinery and its caches). Creating a task is :mod:`.create`, completing one runs the
steps of :mod:`.complete`. Methods take the session (and the caller's context) first,
``flush()`` and never ``commit()`` — except :meth:`TaskService.next_task`, which
long-polls and so opens one short transaction per try, holding no connection while it
waits.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import ProjectNotFound
from services.assignment.mirrors import projects_and_leads as mirrors
from services.assignment.mirrors.projects_and_leads import LeadMirror, ProjectMirror
from services.assignment.operators import repository as operators
from services.assignment.tasks import complete as completion
from services.assignment.tasks import create, repository, routing
from services.assignment.tasks.claims import ClaimEngine
from services.assignment.tasks.create import READY_KEY
from services.assignment.tasks.lease import (
    DEFAULT_LEASE_SECONDS,
    latest_lease,
    not_held,
    operator_of,
    tenant_of,
)
from services.assignment.tasks.models import TaskStatus
from services.assignment.tasks.scheduling import utcnow
from services.assignment.tasks.schemas import (
    BulkOutcome,
    BulkResult,
    BulkTasks,
    Completion,
    Heartbeat,
    TaskComplete,
)
from shared.context import Ctx
from shared.errors import ValidationFailed

__all__ = ["DEFAULT_LEASE_SECONDS", "READY_KEY", "TaskService", "tasks"]

RESCHEDULE_BATCH = 1000
"""Queued tasks re-timed in one statement."""


class TaskService:
    """The rules of tasks; ``tasks = TaskService()``."""

    def __init__(self, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self.claims = ClaimEngine(lease_seconds)
        """Hands out tasks (batching, queue heads, wake-ups, caches)."""
        # Claiming is the engine's own methods, bound here rather than wrapped, so the
        # hot path (POST /v1/operators/me/next-task) runs no extra call per claim:
        self.next_task = self.claims.next_task
        """A task leased to the operator, waiting up to ``wait`` seconds for one."""
        self.claim_once = self.claims.claim_once
        """One try: a new lease, the task the operator already holds, or ``None``."""

    # ------------------------------------------------------------------ creating

    async def create_first_call(
        self, session: AsyncSession, lead: LeadMirror, project: ProjectMirror | None
    ) -> uuid.UUID | None:
        """The lead's one first-call task (a repeat creates nothing); ``None`` when the
        number is on a do-not-call list or the lead was erased."""
        return await create.create_first_call(session, lead, project)

    # ------------------------------------------------------------------ leases

    async def heartbeat(self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID) -> Heartbeat:
        """Renew the caller's live lease; 409 ``lease_lost`` if it lapsed, 404 if never theirs."""
        operator_id = operator_of(ctx)
        tenant_id = tenant_of(await latest_lease(session, operator_id), task_id)
        # The task row first, then the operator's (the lease read above takes no lock):
        # the order complete and the reaper lock them in, so no two of them can deadlock.
        expires = await repository.renew_lease(
            session, tenant_id, task_id, operator_id, self.lease_seconds
        )
        await operators.touch(session, operator_id)
        if expires is None:
            not_held()
        return Heartbeat(id=task_id, lease_expires_at=expires)

    # ------------------------------------------------------------------ completing

    async def complete(
        self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID, data: TaskComplete
    ) -> Completion:
        """Record the attempt, schedule the next task by the retry policy, emit events.

        A repeat by the operator who completed it answers the same result and emits
        nothing; another operator's task is a 404.
        """
        operator_id = operator_of(ctx)
        tenant_id = tenant_of(await latest_lease(session, operator_id), task_id)
        task, now = await completion.locked(session, tenant_id, task_id)
        if task.status == TaskStatus.COMPLETED and task.completed_by == operator_id:
            return await completion.repeat(session, task)
        completion.ensure_held(task, operator_id, now)
        project = await completion.project_of(session, task)
        disposition = completion.check(project, task, data, now)
        lead = await mirrors.get_lead(session, task.tenant_id, task.lead_id)
        plan, qualified_before = await completion.plan(
            session, task, project, lead, disposition, data, now
        )
        await completion.close(session, ctx, task, operator_id, disposition, now)
        next_task = await completion.follow_up(session, task, project, lead, plan)
        attempt = await completion.record(
            session, task, operator_id, data, disposition, project, plan, next_task, now
        )
        await completion.emit(session, task, attempt, qualified_before=qualified_before)
        self.claims.note_available(operator_id)
        return completion.view(task, attempt, next_task)

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

    async def forget_lead(
        self, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID
    ) -> None:
        """An erased lead: its pending tasks cancelled, its number gone from every task."""
        await self.cancel_for_lead(session, tenant_id, lead_id, "lead_erased")
        await repository.forget_phone(session, tenant_id, lead_id)

    async def _release_operators(self, session: AsyncSession, rows: list[Any]) -> None:
        ops = {op for row in rows for op in (row.ops or ()) if op is not None}
        for operator_id in ops:
            await operators.transition(
                session, operator_id, "available", reason="task_cancelled", from_states=["on_task"]
            )

    # ------------------------------------------------------------------ rescheduling

    async def reschedule(
        self, session: AsyncSession, rows: list[Any], *, closed_only: bool = False
    ) -> int:
        """Recompute the offer times of queued tasks (``tenant_id, id, project_id, zones,
        due_at`` rows) from their project's current window; answers how many changed
        (``closed_only``: only those whose window is still closed)."""
        if not rows:
            return 0
        now = utcnow()
        projects: dict[tuple[uuid.UUID, uuid.UUID], ProjectMirror | None] = {}
        retimed: list[repository.Retimed] = []
        for row in rows:
            key = (row.tenant_id, row.project_id)
            if key not in projects:
                projects[key] = await mirrors.get_project(session, *key)
            project = projects[key]
            start, closes = create.offer(project, list(row.zones), row.due_at, now)
            retimed.append(
                repository.Retimed(row.tenant_id, row.id, start, closes, create.priority(project))
            )
        changed = await repository.retime(session, retimed, closed_only=closed_only)
        ready_tenants = {t.tenant_id for t in changed if t.start is not None and t.start <= now}
        if ready_tenants:
            await create.made_ready(session, ready_tenants)
        return len(changed)

    async def reschedule_project(self, session: AsyncSession, project: ProjectMirror) -> int:
        """After the project's window, status or priority changed."""
        rows = await repository.queued_of_project(session, project.tenant_id, project.id)
        done = 0
        for i in range(0, len(rows), RESCHEDULE_BATCH):
            done += await self.reschedule(session, rows[i : i + RESCHEDULE_BATCH])
        return done

    async def roll_windows(self, session: AsyncSession, limit: int = 5000) -> int:
        """Queued tasks whose window closed: on to their next window (each once, however
        many reapers run at the same moment)."""
        rows = await repository.window_closed(session, limit)
        return await self.reschedule(session, rows, closed_only=True)

    # ------------------------------------------------------------------ bulk

    async def bulk(self, session: AsyncSession, ctx: Ctx, data: BulkTasks) -> BulkResult:
        """Follow-up tasks for leads of one project (after an event); per-lead outcome."""
        project = await mirrors.find_project(session, data.project_id)
        if project is None:
            raise ProjectNotFound()
        due_at = data.due_at or utcnow()
        if due_at.tzinfo is None:
            raise ValidationFailed.one("due_at", "timezone_required", "give a time with its offset")
        lead_ids = list(dict.fromkeys(data.lead_ids))
        leads = await mirrors.leads_of_project(session, project.tenant_id, project.id, lead_ids)
        pending = await repository.leads_with_pending(session, project.tenant_id, lead_ids)
        counts = await repository.attempt_counts(session, project.tenant_id, lead_ids)
        items: list[BulkOutcome] = []
        for lead_id in lead_ids:
            lead = leads.get(lead_id)
            outcome = await self._bulk_refusal(session, lead, pending)
            if outcome is not None or lead is None:
                items.append(BulkOutcome(lead_id=lead_id, outcome=outcome or "not_found"))
                continue
            task = await create.create(
                session,
                lead=lead,
                project=project,
                kind=routing.TaskKind.FOLLOW_UP.value,
                due_at=due_at,
                attempt=counts.get(lead_id, 0) + 1,
                note=data.note,
            )
            items.append(BulkOutcome(lead_id=lead_id, outcome="created", task_id=task.id))
        created = sum(1 for i in items if i.outcome == "created")
        return BulkResult(created=created, skipped=len(items) - created, items=items)

    async def _bulk_refusal(
        self, session: AsyncSession, lead: LeadMirror | None, pending: set[uuid.UUID]
    ) -> str | None:
        """Why a bulk follow-up is not created for ``lead`` (``None``: it may be)."""
        if lead is None:
            return "not_found"
        if lead.erased_at is not None or lead.phone_e164 is None:
            return "erased"
        if await create.dnc_rules().is_listed(session, lead.tenant_id, lead.phone_e164):
            return "do_not_call"
        if lead.id in pending:
            return "pending_task"
        return None


tasks = TaskService()
