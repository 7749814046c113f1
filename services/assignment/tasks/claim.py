"""Claiming: the next task (long poll over the cached queue heads), the lease and its
heartbeat.

The hot path is one round trip (:func:`repository.claim_task`, outside any transaction):
``routing.pick`` chooses among the process's cached queue heads, filtered by what this
process last saw of the operator's skills and projects; the statement re-checks them
against the row and leases.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment import routing
from services.assignment.errors import (
    LeaseLost,
    OperatorNotFound,
    OperatorUnavailable,
    TaskNotFound,
)
from services.assignment.mirrors import get_project
from services.assignment.operators import repository as operators
from services.assignment.tasks import ready, repository
from services.assignment.tasks.schemas import (
    DispositionView,
    Heartbeat,
    LeadView,
    LeasedTask,
    ProjectView,
)
from shared.context import Ctx
from shared.db.session import STAFF, driver_connection, session_scope
from shared.ids import new_id

DEFAULT_LEASE_SECONDS = 600.0
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


def _fair_heads(heads: ready.Heads, limit: int = PICK_TENANTS) -> list[ready.Head]:
    """:func:`_fair_subset` of all of ``heads`` (no head filtered out), from the groups
    built at refresh: the same heads, at the cost of one pass over the tenants."""
    groups = heads.by_tenant
    if len(groups) <= limit:
        return heads.heads
    fairness = heads.fairness
    passes, vtime = fairness.passes, fairness.vtime
    # pass_of(t) = max(passes.get(t, vtime), vtime): the lowest is vtime if any tenant
    # is at or behind it, else the smallest recorded pass.
    if any(passes.get(g.tenant_id, vtime) <= vtime for g in groups):
        lowest = vtime
    else:
        lowest = min(passes[g.tenant_id] for g in groups)
    chosen: list[ready.Head] = []
    taken = 0
    for g in groups:  # ordered by (waited, tenant id), as _fair_subset breaks ties
        if passes.get(g.tenant_id, vtime) <= lowest:
            chosen.extend(g.heads)
            taken += 1
            if taken == limit:
                break
    return chosen


def _may_take(facts: _Facts, skills: frozenset[str], project_id: uuid.UUID) -> bool:
    return skills <= facts.skills and (not facts.projects or project_id in facts.projects)


def utcnow() -> datetime:
    return datetime.now(UTC)


def operator_of(ctx: Ctx) -> uuid.UUID:
    """The calling operator's id (their user id)."""
    if ctx.principal_id is None:
        raise OperatorNotFound()
    return ctx.principal_id


async def not_held(session: AsyncSession, task_id: uuid.UUID, operator_id: uuid.UUID) -> None:
    """Raise why the operator does not hold the task: 409 ``lease_lost`` if it was once
    theirs, 404 otherwise."""
    if await repository.ever_assigned(session, task_id, operator_id):
        raise LeaseLost("your lease on this task expired; it went back to the queue")
    raise TaskNotFound()


def _available(row: Any) -> bool:
    return bool(row.operator_status == "active" and row.operator_state == "available")


def _leased(row: Any, reason: str, project: ProjectView) -> LeasedTask:
    return LeasedTask(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        attempt=row.attempt,
        due_at=row.due_at,
        lease_expires_at=row.lease_expires_at,
        reason=reason,
        note=row.note,
        lead=LeadView(
            id=row.lead_id,
            phone=row.phone_e164,
            timezones=list(row.zones),
            received_at=row.received_at,
        ),
        project=project,
    )


class ClaimMixin:
    """Next task, lease and heartbeat (part of :class:`~.service.TaskService`)."""

    lease_seconds: float
    _projects: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, ProjectView]]
    _facts: dict[uuid.UUID, _Facts]

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

        The hot path is one round trip: ``routing.pick`` chooses among the process's
        cached queue heads, filtered by what this process last saw of the operator's
        skills and projects, and :func:`repository.claim_task` (one call of the
        ``assignment.claim_task`` function, a statement of its own outside any explicit
        transaction) re-checks them against the operator's row and leases. The rarer
        answers (nothing leased, the operator busy or away) take a session.
        """
        heads = ready.heads()
        current = await heads.current()  # before our connection: a refresh needs one
        facts = self._facts.get(operator_id)
        row: Any = None
        reason = ""
        async with driver_connection() as driver:
            tried: set[int] = set()
            for _ in range(MAX_PICKS):
                if not tried and (
                    facts is None or (not facts.projects and heads.skills <= facts.skills)
                ):
                    # every head is open to this operator: the groups built at refresh
                    eligible = _fair_heads(heads)
                    offered = [h.candidate for h in eligible]
                else:
                    eligible = [
                        h
                        for h in current
                        if id(h) not in tried
                        and (facts is None or _may_take(facts, h.skills, h.candidate.project_id))
                    ]
                    offered = _fair_subset(eligible, heads.fairness)
                if not eligible:
                    break
                try:
                    chosen, reason = routing.pick(offered, heads.fairness, utcnow())
                except ValueError:
                    break
                head = next(h for h in eligible if h.candidate is chosen)
                row = await repository.claim_task(
                    driver,
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
                if row.id is not None or not _available(row):
                    break
                if row.eligible:  # the queue had nothing ready and unlocked
                    heads.drop(head)
                tried.add(id(head))
                row = None
        if row is not None and row.id is not None:
            project = self._cached_project(row.tenant_id, row.project_id, row.project_revision)
            if project is not None:
                return _leased(row, reason, project)
        async with session_scope(STAFF) as session:
            if row is not None and row.id is not None:
                return await self._leased_view(session, row, reason=reason)
            if row is not None:  # not available
                return await self._not_available(session, operator_id, row.operator_state)
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

    def _cached_project(
        self, tenant_id: uuid.UUID, project_id: uuid.UUID, revision: int | None
    ) -> ProjectView | None:
        """The project's view if this process holds it at ``revision`` (the mirror's
        revision only grows, with every change of name, script, dispositions, window)."""
        cached = self._projects.get((tenant_id, project_id))
        if cached is not None and revision is not None and cached[0] == revision:
            return cached[1]
        return None

    async def _project_view(
        self, session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
    ) -> ProjectView:
        project = await get_project(session, tenant_id, project_id)
        if project is None:
            return ProjectView(
                id=project_id, name=None, script="", dispositions=[], calling_window={}
            )
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
        if len(self._projects) > 100_000:
            self._projects.clear()
        self._projects[(tenant_id, project_id)] = (project.revision, view)
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
        project = await self._project_view(session, row.tenant_id, row.project_id)
        return _leased(row, reason or "", project)

    # ------------------------------------------------------------------ lease

    async def heartbeat(self, session: AsyncSession, ctx: Ctx, task_id: uuid.UUID) -> Heartbeat:
        """Renew the caller's live lease; 409 ``lease_lost`` if it lapsed, 404 if never theirs."""
        operator_id = operator_of(ctx)
        # The task row first, then the operator's: the order complete and the reaper
        # lock them in, so no two of them can deadlock.
        expires = await repository.renew_lease(session, task_id, operator_id, self.lease_seconds)
        await operators.touch(session, operator_id)
        if expires is None:
            await not_held(session, task_id, operator_id)
        assert expires is not None
        return Heartbeat(id=task_id, lease_expires_at=expires)
