"""Tasks: first calls, cancel, reschedule, bulk — and :data:`tasks`, the one
:class:`TaskService`, which also creates (:mod:`.create`), claims (:mod:`.claim`: next
task, lease, heartbeat) and completes (:mod:`.complete`: completion, retry policy,
events).

Stateless but for short-lived caches; methods take the session (and the caller's
context) first, ``flush()`` and never ``commit()`` — except :meth:`TaskService.next_task`,
which long-polls and so opens one short transaction per try, holding no connection
while it waits.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import ProjectNotFound
from services.assignment.mirrors.projects_and_leads import (
    LeadMirror,
    ProjectMirror,
    find_project,
    get_project,
)
from services.assignment.operators import repository as operators
from services.assignment.tasks import repository, routing
from services.assignment.tasks.claim import (
    DEFAULT_LEASE_SECONDS,
    ClaimMixin,
    _Facts,
    utcnow,
)
from services.assignment.tasks.complete import CompleteMixin, dnc_rules
from services.assignment.tasks.create import READY_KEY
from services.assignment.tasks.models import Attempt, Task, TaskStatus
from services.assignment.tasks.scheduling import class_rank, offer_times
from services.assignment.tasks.schemas import BulkOutcome, BulkResult, BulkTasks, ProjectView
from shared.context import Ctx
from shared.errors import ValidationFailed
from shared.ids import new_id

__all__ = ["DEFAULT_LEASE_SECONDS", "READY_KEY", "TaskService", "tasks"]


class TaskService(ClaimMixin, CompleteMixin):
    """The rules of tasks; ``tasks = TaskService()``."""

    def __init__(self, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self._projects: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, ProjectView]] = {}
        self._facts: dict[int, _Facts] = {}
        self._fact_kinds: dict[tuple[tuple[str, ...], tuple[uuid.UUID, ...]], _Facts] = {}
        self._combiners = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ creating

    async def create_first_call(
        self, session: AsyncSession, lead: LeadMirror, project: ProjectMirror | None
    ) -> uuid.UUID | None:
        """The lead's one first-call task (a repeat creates nothing); ``None`` when the
        number is on a do-not-call list or the lead was erased."""
        if lead.phone_e164 is None or lead.erased_at is not None:
            await self._mark_lead(session, lead)
            return None
        if await dnc_rules().is_listed(session, lead.tenant_id, lead.phone_e164):
            await self._mark_lead(session, lead)
            return None
        now = utcnow()
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
        now = utcnow()
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

    # ------------------------------------------------------------------ bulk

    async def bulk(self, session: AsyncSession, ctx: Ctx, data: BulkTasks) -> BulkResult:
        """Follow-up tasks for leads of one project (after an event); per-lead outcome."""
        project = await find_project(session, data.project_id)
        if project is None:
            raise ProjectNotFound()
        due_at = data.due_at or utcnow()
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
        dnc = dnc_rules()
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


tasks = TaskService()
