"""Operators: profiles from ``user.*`` events, management, state and its log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import OperatorNotFound, TaskInProgress
from services.assignment.operators import repository
from services.assignment.operators.models import Operator, OperatorState
from services.assignment.operators.schemas import (
    Operator as OperatorSchema,
)
from services.assignment.operators.schemas import (
    OperatorToday,
    OperatorUpdate,
    SettableState,
    StateChange,
    StateSpan,
)
from services.assignment.tasks import create as task_create
from services.assignment.tasks import repository as task_repository
from shared.audit.log import record
from shared.context import Ctx
from shared.http.pagination import Page, PageParams
from shared.messaging.events import UserCreatedV1, UserUpdatedV1

OPERATOR_ROLE = "operator"


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class OperatorService:
    """Stateless; ``operators = OperatorService()``."""

    # ------------------------------------------------------------------ events

    async def apply_user(
        self, session: AsyncSession, payload: UserCreatedV1 | UserUpdatedV1
    ) -> bool:
        """Create or update the profile of a user whose role is ``operator``.

        A user leaving the role (or disabled) keeps the profile, disabled and offline,
        and their task returns to the queue. Answers whether a profile changed.
        """
        user_id, role, status = payload.user_id, payload.role or None, payload.status or None
        existing = await repository.lock(session, user_id)
        values: dict[str, Any] = {} if payload.name is None else {"name": payload.name}
        skills = _user_skills(payload, new_profile=existing is None)
        if skills is not None:
            values["skills"] = skills
        if role == OPERATOR_ROLE:
            values["status"] = "disabled" if status == "disabled" else "active"
            await repository.upsert(session, user_id, values)
            if existing is None:
                await repository.open_first_span(session, user_id, reason="created")
        elif existing is None:
            return False
        else:
            if role is not None or status == "disabled":
                values["status"] = "disabled"
            elif status == "active":
                values["status"] = "active"
            if values:
                await repository.update_profile(session, user_id, values)
        if await repository.status_of(session, user_id) == "disabled":
            await self._go_offline(session, [user_id], reason="disabled")
        return True

    async def _go_offline(
        self, session: AsyncSession, operator_ids: list[uuid.UUID], *, reason: str
    ) -> int:
        """Offline, and their tasks back to the queue; answers how many tasks returned."""
        for operator_id in operator_ids:
            await repository.transition(session, operator_id, "offline", reason=reason)
        # Their latest leases, each returned by (tenant_id, id) while still theirs.
        by_tenant: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = {}
        for tenant_id, task_id, operator_id in await repository.current_leases(
            session, operator_ids
        ):
            by_tenant.setdefault(tenant_id, []).append((task_id, operator_id))
        returned = 0
        ready: set[uuid.UUID] = set()
        for tenant_id, leases in by_tenant.items():
            tasks, ops = zip(*leases, strict=True)
            back = await task_repository.return_held(session, tenant_id, tasks, ops)
            if back:
                returned += len(back)
                ready.add(tenant_id)
        if ready:
            await task_create.made_ready(session, ready)
        return returned

    # ------------------------------------------------------------------ reads

    async def get(self, session: AsyncSession, operator_id: uuid.UUID) -> OperatorSchema:
        operator = await repository.get(session, operator_id)
        if operator is None:
            raise OperatorNotFound()
        return (await self._views(session, [operator]))[0]

    async def list_page(self, session: AsyncSession, params: PageParams) -> Page[OperatorSchema]:
        rows, cursor = await repository.page(session, params)
        return Page(items=await self._views(session, rows), next_cursor=cursor)

    async def _views(
        self, session: AsyncSession, operators: list[Operator]
    ) -> list[OperatorSchema]:
        ids = [o.id for o in operators]
        since = start_of_day()
        stats = await repository.stats_today(session, ids, since)
        spans = await repository.spans_today(session, ids, since)
        out = []
        for o in operators:
            s = stats.get(o.id, {})
            out.append(
                OperatorSchema(
                    id=o.id,
                    name=o.name,
                    status=o.status,
                    state=o.state,
                    state_since=o.state_since,
                    last_seen_at=o.last_seen_at,
                    skills=list(o.skills),
                    project_ids=list(o.project_ids),
                    languages=list(o.languages),
                    today=OperatorToday(
                        tasks=s.get("tasks", 0),
                        talk_seconds=s.get("talk_seconds", 0),
                        outcomes=s.get("outcomes", {}),
                        seconds_in_state=spans.get(o.id, {}),
                    ),
                )
            )
        return out

    async def states(
        self, session: AsyncSession, operator_id: uuid.UUID, *, since: datetime | None = None
    ) -> list[StateSpan]:
        """The operator's state spans since ``since`` (default: the last 24 hours)."""
        if await repository.get(session, operator_id) is None:
            raise OperatorNotFound()
        since = since or datetime.now(UTC) - timedelta(days=1)
        rows = await repository.spans_since(session, operator_id, since)
        return [
            StateSpan(state=r.state, started_at=r.started_at, ended_at=r.ended_at, reason=r.reason)
            for r in rows
        ]

    # ------------------------------------------------------------------ writes

    async def update(
        self, session: AsyncSession, ctx: Ctx, operator_id: uuid.UUID, data: OperatorUpdate
    ) -> OperatorSchema:
        operator = await repository.lock(session, operator_id)
        if operator is None:
            raise OperatorNotFound()
        before = _profile(operator)
        if data.skills is not None:
            operator.skills = sorted(set(data.skills))
        if data.project_ids is not None:
            operator.project_ids = list(dict.fromkeys(data.project_ids))
        if data.languages is not None:
            operator.languages = sorted(set(data.languages))
        operator.updated_at = datetime.now(UTC)
        await session.flush()
        await record(
            session,
            ctx,
            action="operator.updated",
            entity="operator",
            entity_id=operator_id,
            tenant_id=None,
            before=before,
            after=_profile(operator),
        )
        return await self.get(session, operator_id)

    async def set_state(self, session: AsyncSession, ctx: Ctx, data: StateChange) -> OperatorSchema:
        """The caller's own state. Holding a task: ``break`` is refused (finish it first),
        ``offline`` returns the task to the queue, ``available`` keeps ``on_task``."""
        assert ctx.principal_id is not None
        operator_id = ctx.principal_id
        operator = await repository.lock(session, operator_id)
        if operator is None or operator.status != "active":
            raise OperatorNotFound("no active operator profile for this user")
        await repository.touch(session, operator_id)
        held = await task_repository.held_by(
            session, operator.current_tenant_id, operator.current_task_id, operator_id
        )
        holding = held is not None
        if data.state is SettableState.OFFLINE:
            await self._go_offline(session, [operator_id], reason="set_by_operator")
        elif holding:
            if data.state is SettableState.BREAK:
                raise TaskInProgress("complete the task you hold before a break")
            await repository.transition(
                session, operator_id, OperatorState.ON_TASK, reason="set_by_operator"
            )
        else:
            await repository.transition(
                session, operator_id, data.state.value, reason="set_by_operator", seen=True
            )
        return await self.get(session, operator_id)

    async def reap_silent(self, session: AsyncSession, silence: timedelta) -> tuple[int, int]:
        """Operators silent for ``silence`` go offline; answers (operators, tasks returned)."""
        ids = await repository.lock_silent(session, silence)
        if not ids:
            return 0, 0
        returned = await self._go_offline(session, ids, reason="silent")
        return len(ids), returned


def _user_skills(payload: UserCreatedV1 | UserUpdatedV1, *, new_profile: bool) -> list[str] | None:
    """The skills the user event sets on the profile, or ``None`` to keep the profile's.

    A new user (or a new profile) takes the user's skills; an update takes them only when
    they changed, so an unrelated change (a status, a name) does not undo skills an admin
    set on the operator since (``PATCH /v1/operators/{id}``)."""
    if payload.skills is None:
        return None
    if (
        isinstance(payload, UserUpdatedV1)
        and not new_profile
        and payload.changed
        and "skills" not in payload.changed
    ):
        return None
    return sorted(set(payload.skills))


def _profile(operator: Operator) -> dict[str, Any]:
    return {
        "skills": list(operator.skills),
        "project_ids": [str(p) for p in operator.project_ids],
        "languages": list(operator.languages),
    }


operators = OperatorService()
