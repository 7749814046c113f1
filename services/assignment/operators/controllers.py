"""``/v1/operators``: profiles and today's figures (account managers, admins); an
operator's own state (``/v1/operators/me/state``) and next task (``/me/next-task``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.operators.schemas import Operator, OperatorUpdate, StateChange, StateSpan
from services.assignment.operators.service import operators
from services.assignment.tasks.schemas import LeasedTask
from services.assignment.tasks.service import tasks
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.pagination import Page, PageParams

MANAGERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)]
OPERATORS = [require_roles(Role.OPERATOR)]
MAX_WAIT = 30


class OperatorController(Controller):
    path = "/v1/operators"
    tags = ["operators"]

    @get("/", guards=MANAGERS, operation_id="ListOperators", summary="List operators")
    async def list_operators(
        self, session: AsyncSession, page_params: PageParams
    ) -> Page[Operator]:
        """Operators with their state and today's tasks, talk time, outcomes and time in
        each state (since midnight UTC), newest profile first."""
        return await operators.list_page(session, page_params)

    @get("/{operator_id:uuid}", guards=MANAGERS, operation_id="GetOperator")
    async def get_operator(self, operator_id: uuid.UUID, session: AsyncSession) -> Operator:
        return await operators.get(session, operator_id)

    @patch("/{operator_id:uuid}", guards=MANAGERS, operation_id="UpdateOperator")
    async def update_operator(
        self, operator_id: uuid.UUID, data: OperatorUpdate, ctx: Ctx, session: AsyncSession
    ) -> Operator:
        """Skills, projects the operator may work (empty = all) and languages."""
        return await operators.update(session, ctx, operator_id, data)

    @get("/{operator_id:uuid}/states", guards=MANAGERS, operation_id="ListOperatorStates")
    async def list_states(
        self,
        operator_id: uuid.UUID,
        session: AsyncSession,
        since: datetime | None = Parameter(query="since", default=None, required=False),
    ) -> list[StateSpan]:
        """The time-in-state log (default: the last 24 hours)."""
        return await operators.states(session, operator_id, since=since)

    @get("/me", guards=OPERATORS, operation_id="GetMyOperator")
    async def get_me(self, ctx: Ctx, session: AsyncSession) -> Operator:
        assert ctx.principal_id is not None
        return await operators.get(session, ctx.principal_id)

    @post("/me/state", guards=OPERATORS, operation_id="SetMyState", status_code=200)
    async def set_state(self, data: StateChange, ctx: Ctx, session: AsyncSession) -> Operator:
        """``available``, ``break`` or ``offline``; ``on_task`` follows from holding a task."""
        return await operators.set_state(session, ctx, data)

    @post("/me/next-task", guards=OPERATORS, operation_id="NextTask", status_code=200)
    async def next_task(
        self,
        ctx: Ctx,
        wait: int = Parameter(query="wait", default=0, ge=0, le=MAX_WAIT),
    ) -> Response[LeasedTask | None]:
        """One task leased to the caller (or the one they already hold), waiting up to
        ``wait`` seconds for one; 204 when none came. No database connection is held
        while waiting."""
        assert ctx.principal_id is not None
        leased = await tasks.next_task(ctx.principal_id, wait=wait)
        if leased is None:
            return Response(None, status_code=204)
        return Response(leased, status_code=200)


OPERATOR_ROUTE_HANDLERS = [OperatorController]
